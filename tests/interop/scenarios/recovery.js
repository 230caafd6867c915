"use strict";
// Scenario 7: connection state recovery. The client joins room "r", gets one broadcast (its
// first offset), then closes its Engine.IO connection; the server broadcasts while it is away;
// the client reconnects by itself and must get the missed events, in order, with the same id.
const { connect, out, once, run, disconnectAll } = require("./common");

run(async () => {
  const socket = connect("/", {
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
  });
  const events = [];
  socket.on("e", (...args) => events.push(args));
  await once(socket, "connect");
  const firstId = socket.id;
  out({ ev: "first", id: firstId, recovered: socket.recovered });

  const first = once(socket, "e");
  out({ ev: "joined", ack: await socket.emitWithAck("join", "r") });
  await first;
  out({ ev: "before", values: events.map((a) => a[0]), offset: typeof events[0][1] });

  const disconnected = once(socket, "disconnect", 5000);
  const reconnected = once(socket, "connect", 5000);
  socket.io.engine.close();
  const [reason] = await disconnected;
  await reconnected;
  out({
    ev: "after",
    reason,
    sameId: socket.id === firstId,
    recovered: socket.recovered,
    values: events.map((a) => a[0]),
    offsets: events.map((a) => typeof a[a.length - 1]),
  });
  out({ ev: "rooms", rooms: await socket.timeout(2000).emitWithAck("rooms") });

  // negative cases: a new client, and a client with a session the server does not know
  const fresh = connect("/");
  await once(fresh, "connect");
  out({ ev: "fresh", recovered: fresh.recovered, sameId: fresh.id === firstId });
  const bogus = connect("/", { autoConnect: false });
  bogus._pid = "unknown-pid";
  bogus._lastOffset = "unknown-offset";
  bogus.connect();
  await once(bogus, "connect");
  out({ ev: "bogus", recovered: bogus.recovered, sameId: bogus.id === firstId });

  await disconnectAll([socket, fresh, bogus]);
}, 10000);
