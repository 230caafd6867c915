"use strict";
// Scenario 6: disconnect reasons on both sides. One client per case, one case at a time; an
// observer client (auth name "observer") gets the server-side reason of each case.
const { connect, out, once, run, disconnectAll } = require("./common");

const cases = {
  // the client leaves the namespace
  client: (socket) => socket.disconnect(),
  // the server disconnects the socket from the namespace
  server: (socket) => socket.emit("kick"),
  // the server disconnects the socket and closes the connection
  "server-close": (socket) => socket.emit("kick-close"),
  // the server closes the Engine.IO connection
  "server-transport": (socket) => socket.emit("close-transport"),
  // the client closes its Engine.IO connection
  engine: (socket) => socket.io.engine.close(),
};

run(async () => {
  const observer = connect("/", { auth: { name: "observer" } });
  await once(observer, "connect");
  for (const [name, action] of Object.entries(cases)) {
    const socket = connect("/", { auth: { name } });
    await once(socket, "connect");
    const disconnected = once(socket, "disconnect", 5000);
    const reported = once(observer, "reason", 5000);
    action(socket);
    const [reason] = await disconnected;
    const [reportedName, serverReason] = await reported;
    out({ ev: "disconnect", name, reason, reportedName, serverReason });
  }
  await disconnectAll([observer]);
}, 10000);
