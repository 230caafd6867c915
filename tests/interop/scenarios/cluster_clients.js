"use strict";
// Clients of the cluster example (examples/cluster), connected through its front.
// argv: node cluster_clients.js '<JSON config>'
//   url      the front
//   count    how many clients (transports in turn: polling only, websocket only, upgrade)
//   sticky   "ip": client i connects from 127.0.<i % networks + 1>.1 (so that the front's
//            address hash spreads the clients); "cookie": from 127.0.0.1, keeping cookies
//   networks how many source networks in "ip" mode
//   nonce    makes the texts of this run unique
//   rounds   how many whoami round trips each client makes
// Prints one JSON line: what every client saw (the test checks it).

const http = require("http");
const path = require("path");

const { io } = require(path.join(__dirname, "..", "node_modules", "socket.io-client"));

const config = JSON.parse(process.argv[2]);
const MODES = ["polling", "websocket", "upgrade"];
const TRANSPORTS = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
};

const guard = setTimeout(() => {
  process.stderr.write("cluster_clients.js timed out\n");
  process.exit(2);
}, 25000);
guard.unref();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(20);
}

function makeClient(i) {
  const mode = MODES[i % MODES.length];
  const options = {
    forceNew: true,
    reconnection: false, // a lost session shows as an error instead of a silent new one
    transports: TRANSPORTS[mode],
    timeout: 10000,
  };
  let address = "127.0.0.1";
  if (config.sticky === "ip") {
    address = `127.0.${(i % config.networks) + 1}.1`;
    options.localAddress = address; // WebSocket
    options.agent = new http.Agent({ localAddress: address, keepAlive: true }); // polling
  } else {
    options.withCredentials = true; // keeps cookies (io_server) in Node
  }
  const socket = io(config.url, options);
  const client = { i, mode, address, socket, errors: [], messages: [], whoami: [] };
  socket.on("connect_error", (err) => client.errors.push(`connect_error: ${err.message}`));
  socket.on("disconnect", (reason, details) => {
    if (!client.closing) client.errors.push(`disconnect: ${reason} ${details ? details.message || "" : ""}`);
  });
  socket.on("message", (message) => client.messages.push(message.text));
  return client;
}

async function main() {
  const clients = Array.from({ length: config.count }, (_, i) => makeClient(i));
  await until(() => clients.every((c) => c.socket.connected || c.errors.length), 8000);
  await sleep(300); // upgrades done

  for (let round = 0; round < config.rounds; round++) {
    await Promise.all(
      clients.map(async (c) => {
        if (!c.socket.connected) return; // its errors tell why
        try {
          c.whoami.push(await c.socket.timeout(3000).emitWithAck("whoami"));
        } catch (err) {
          c.errors.push(`whoami: ${err.message}`);
        }
      }),
    );
    await sleep(100);
  }

  // a broadcast to everyone (the test's own clients count it too), then to a room: the even
  // clients, on several servers
  const everyone = `all-${config.nonce}`;
  const inRoom = `in-${config.nonce}`;
  const room = `room-${config.nonce}`;
  const sender = clients[0].socket;
  const members = clients.filter((c) => c.i % 2 === 0 && c.socket.connected);
  const got = (c, text) => c.messages.filter((m) => m === text).length;
  const failures = [];
  let roomMembers = [];
  try {
    if (!sender.connected) throw new Error("the first client is not connected");
    await sender.timeout(5000).emitWithAck("say", everyone);
    await until(() => clients.every((c) => got(c, everyone) >= 1), 5000);
    await Promise.all(members.map((c) => c.socket.timeout(5000).emitWithAck("join", room)));
    roomMembers = await sender.timeout(5000).emitWithAck("members", room);
    await sender.timeout(5000).emitWithAck("say", { text: inRoom, room });
    await until(() => members.every((c) => got(c, inRoom) >= 1), 5000);
  } catch (err) {
    failures.push(`broadcast or room: ${err.message}`);
  }
  await sleep(300); // duplicates, or messages to non-members, would arrive by now

  const result = {
    clients: clients.map((c) => ({
      i: c.i,
      mode: c.mode,
      address: c.address,
      connected: c.socket.connected,
      transport: c.socket.connected ? c.socket.io.engine.transport.name : null,
      whoami: c.whoami,
      errors: c.errors,
      everyone: got(c, everyone),
      inRoom: got(c, inRoom),
      member: members.includes(c),
    })),
    roomMembers,
    failures,
  };
  for (const c of clients) {
    c.closing = true;
    c.socket.disconnect();
  }
  process.stdout.write(JSON.stringify(result) + "\n");
  await sleep(50);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
