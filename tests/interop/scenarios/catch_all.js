"use strict";
// Scenario 9: catch-all listeners: onAny (incoming) and onAnyOutgoing on the client; the
// server's on_any / on_any_outgoing are checked on the Python side.
const { connect, out, once, run, disconnectAll } = require("./common");

run(async () => {
  const socket = connect("/", { autoConnect: false });
  const incoming = [];
  const outgoing = [];
  // functions (ack callbacks) are shown as "<fn>"
  const show = (args) => args.map((a) => (typeof a === "function" ? "<fn>" : a));
  socket.onAny((...args) => incoming.push(show(args)));
  socket.onAnyOutgoing((...args) => outgoing.push(show(args)));
  socket.on("s2", (...args) => {
    const cb = args[args.length - 1];
    if (typeof cb === "function") cb("s2-ack");
  });
  socket.connect();
  await once(socket, "connect");

  socket.emit("a", 1);
  socket.emit("b", { x: [1, 2] }, "y");
  const ack = await socket.emitWithAck("c", 3);
  out({ ev: "c-ack", ack });
  await once(socket, "s3", 5000); // the server got the ack of "s2" and says so
  out({ ev: "incoming", events: incoming });
  out({ ev: "outgoing", events: outgoing });
  await disconnectAll([socket]);
}, 10000);
