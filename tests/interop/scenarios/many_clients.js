"use strict";
// Scenario 8: many concurrent clients (argv[4], default 1000) over WebSocket in one process:
// all connect, each emits one event with an ack, all acks arrive, all disconnect.
const { connect, out, once, run, disconnectAll, extra } = require("./common");

run(async () => {
  const count = Number(extra[0] || 1000);
  const started = Date.now();
  const sockets = [];
  for (let i = 0; i < count; i++) sockets.push(connect("/", { auth: { i }, mode: "websocket" }));
  const errors = [];
  await Promise.all(
    sockets.map((socket) =>
      Promise.race([
        once(socket, "connect", 60000),
        once(socket, "connect_error", 60000).then(([err]) => errors.push(err.message)),
      ])
    )
  );
  const connected = sockets.filter((s) => s.connected).length;
  out({ ev: "connected", count: connected, errors: errors.slice(0, 5), ms: Date.now() - started });

  const acks = await Promise.all(
    sockets.map((socket, i) => socket.timeout(40000).emitWithAck("inc", i))
  );
  const wrong = acks.filter((value, i) => value !== i + 1).length;
  const ids = new Set(sockets.map((s) => s.id)).size;
  out({ ev: "acks", count: acks.length, wrong, distinctIds: ids, ms: Date.now() - started });

  await disconnectAll(sockets, 40000);
  out({ ev: "closed", ms: Date.now() - started });
}, 150000); // generous: the CI machine is loaded
