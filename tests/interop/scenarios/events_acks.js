"use strict";
// Scenario 1: events and acknowledgements in both directions.
const { connect, out, once, run, mode, waitUpgraded, disconnectAll } = require("./common");

run(async () => {
  const socket = connect("/");

  // handlers for the events the server sends from its connection handler
  socket.on("server-ask", (n, cb) => {
    out({ ev: "server-ask", n, ackIsFunction: typeof cb === "function" });
    cb(n * 2);
  });
  socket.on("server-multi", (cb) => cb(1, "two", { three: [3] }));
  socket.on("server-ignored", (cb) => {
    // never acknowledged: the server's emit_with_ack must time out
    out({ ev: "server-ignored", ackIsFunction: typeof cb === "function" });
  });
  const finished = once(socket, "finished", 5000);

  await once(socket, "connect");
  out({ ev: "connect", id: socket.id });

  socket.emit("hello", "world", 1, { a: [1, 2], b: null, c: true });
  const sum = await socket.emitWithAck("add", 2, 3);
  out({ ev: "add-ack", sum });
  const none = await socket.emitWithAck("no-result");
  out({ ev: "no-result-ack", value: none === undefined ? "undefined" : none });
  const many = await new Promise((resolve) =>
    socket.emit("many", "x", (...args) => resolve(args))
  );
  out({ ev: "many-ack", args: many });

  const started = Date.now();
  try {
    await socket.timeout(200).emitWithAck("never");
    out({ ev: "never-ack", error: null });
  } catch (err) {
    out({ ev: "never-ack", error: err.message, elapsed: Date.now() - started });
  }

  const [summary] = await finished;
  out({ ev: "finished", summary });

  if (mode === "upgrade") await waitUpgraded(socket);
  out({ ev: "transport", name: socket.io.engine.transport.name });

  await disconnectAll([socket]);
}, 10000);
