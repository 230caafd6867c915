"use strict";
// Scenario 6b: a client that stops answering the server's pings.
const { connect, out, once, run } = require("./common");

run(async () => {
  const socket = connect("/");
  await once(socket, "connect");
  const engine = socket.io.engine;
  let pings = 0;
  engine.on("ping", () => pings++);
  const send = engine._sendPacket.bind(engine);
  engine._sendPacket = (type, ...rest) => {
    if (type !== "pong") send(type, ...rest);
  };
  const started = Date.now();
  const [reason] = await once(socket, "disconnect", 5000);
  out({ ev: "disconnect", reason, pings, elapsed: Date.now() - started });
}, 10000);
