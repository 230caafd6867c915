"use strict";
// cookie: a client with withCredentials keeps the engine's cookie (its cookie jar in Node)
// and sends it back on the later requests of the session, the WebSocket upgrade included.
// argv: <port> <polling|upgrade|fetch>
const path = require("path");
const { connect, mode, out, once, run, waitUpgraded, disconnectAll } = require("./common");

const { Fetch } = require(path.join(__dirname, "..", "node_modules", "engine.io-client"));

run(async () => {
  const options = { withCredentials: true };
  if (mode === "fetch") Object.assign(options, { mode: "polling", transports: [Fetch] });
  const socket = connect("/", options);
  await once(socket, "connect");
  if (mode === "upgrade") await waitUpgraded(socket);
  const answer = await socket.emitWithAck("hello", 1);
  const engine = socket.io.engine;
  out({ ev: "connected", sid: engine.id, transport: engine.transport.name, answer });
  await disconnectAll([socket]);
}, 10000);
