"use strict";
// Scenario 10: a burst of numbered events (argv[4], default 500) sent as fast as possible,
// then one event with an ack once they are all written.
const { connect, out, once, run, disconnectAll, extra } = require("./common");

run(async () => {
  const count = Number(extra[0] || 500);
  const socket = connect("/");
  await once(socket, "connect");
  for (let i = 0; i < count; i++) socket.emit("n", i);
  out({ ev: "done-ack", ack: await socket.timeout(5000).emitWithAck("done", count) });
  await disconnectAll([socket]);
}, 10000);
