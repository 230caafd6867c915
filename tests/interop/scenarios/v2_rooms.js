"use strict";
// Rooms and broadcasts shared by socket.io-client 2.5.0 and 4.8 clients on one server:
// two of each kind join room "r", one of each stays out; a v2 client and a v4 client each
// broadcast to the room (text, then binary); then the server says "end" to everyone.
const { connect, connectV2, ask, hex, once, out, run } = require("./v2_common");

async function client(kind, name) {
  const socket = kind === "v2" ? connectV2("/") : connect("/");
  const got = [];
  socket.on("news", (...args) => got.push(args.map(hex)));
  const ended = once(socket, "end", 8000);
  await once(socket, "connect");
  return { kind, name, socket, got, ended };
}

run(async () => {
  const clients = [];
  for (const kind of ["v2", "v4"]) {
    for (const name of ["a", "b", "out"]) clients.push(await client(kind, `${kind}-${name}`));
  }
  for (const c of clients) {
    if (!c.name.endsWith("out")) await ask(c.socket, "join", "r");
  }
  const [v2a, , , v4a] = clients;
  await ask(v2a.socket, "broadcast", "r", "from v2", Buffer.from([1, 2]));
  await ask(v4a.socket, "broadcast", "r", { from: "v4" }, { bytes: Buffer.from([3]) });
  v4a.socket.emit("finish");
  await Promise.all(clients.map((c) => c.ended));
  for (const c of clients) out({ ev: "got", name: c.name, got: c.got });
  for (const c of clients) c.socket.close();
}, 15000);
