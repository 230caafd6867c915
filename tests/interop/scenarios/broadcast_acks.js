"use strict";
// Scenario 5: broadcasts with acknowledgements. Three clients answer "q"; only A and B answer
// "q2" (C keeps silent, so the server's broadcast times out with two responses).
const { connect, out, once, run, disconnectAll } = require("./common");

run(async () => {
  const names = ["A", "B", "C"];
  const clients = names.map((name) => {
    const socket = connect("/", { auth: { name } });
    socket.on("q", (n, cb) => cb(`${name}:${n}`));
    socket.on("q2", (cb) => {
      if (name !== "C") cb({ name, bin: Buffer.from(name) });
    });
    return socket;
  });
  const done = clients.map((socket) => once(socket, "done", 8000));
  await Promise.all(clients.map((socket) => once(socket, "connect")));
  out({ ev: "connected", count: clients.length });
  await Promise.all(done);
  out({ ev: "done" });
  await disconnectAll(clients);
}, 10000);
