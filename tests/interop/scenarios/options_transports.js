"use strict";
// transports / allow_upgrades: which transport the official client ends up on.
// argv: <port> <websocket|polling|upgrade>
const { connect, mode, out, once, run, sleep, disconnectAll } = require("./common");

run(async () => {
  const socket = connect("/");
  // the engine exists at once (autoConnect): listen before its probe can start
  const upgrades = [];
  socket.io.engine.on("upgrade", (t) => upgrades.push(t.name));
  const result = await Promise.race([
    once(socket, "connect").then(() => "connect"),
    once(socket, "connect_error").then(([err]) => err),
  ]);
  if (result !== "connect") {
    out({ ev: "connect_error", message: result.message, description: result.description });
    socket.close();
    return;
  }
  const engine = socket.io.engine;
  await sleep(mode === "upgrade" ? 300 : 50);
  out({ ev: "connected", mode, transport: engine.transport.name, upgrades });
  await disconnectAll([socket]);
}, 10000);
