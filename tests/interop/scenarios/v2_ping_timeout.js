"use strict";
// Ping timeouts with socket.io-client 2.5.0, whose client sends the pings (Engine.IO v3).
// extra: "server" - the client stops pinging (and stops watching the server): the server
//                   must close the session ("ping timeout" there);
//        "client" - the client drops the server's pongs: its own timer closes ("ping timeout").
const { breakHeartbeat, connectV2, extra, mode, once, out, run, waitUpgraded } = require("./v2_common");

run(async () => {
  const socket = connectV2("/");
  await once(socket, "connect");
  if (mode === "upgrade") await waitUpgraded(socket);
  const engine = socket.io.engine;
  let pongs = 0;
  engine.on("pong", () => pongs++);
  await once(engine, "pong", 3000); // the heartbeat works before it is broken
  breakHeartbeat(engine, extra[0]);
  const started = Date.now();
  const [reason] = await once(socket, "disconnect", 5000);
  out({ ev: "disconnect", reason, pongs, elapsed: Date.now() - started });
}, 10000);
