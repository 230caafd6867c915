"use strict";
// Clients of a server that runs as several workers (tests/workers/test_workers_processes.py).
// argv: node workers_clients.js '<JSON config>'
//   url        the server (http:// or https://; a self-signed certificate is accepted)
//   mode       "polling" | "websocket" | "upgrade"
//   count      how many clients
//   rounds     how many round trips each client makes (an ack, and an event the server sends
//              back with an ack of the client's)
//   keepAlive  false: every polling request on a new connection (so that successive requests
//              of one session reach different workers)
//   broadcast  true: also check that a broadcast reaches every client exactly once
// Prints one JSON line: what every client saw (the test checks it).

const http = require("http");
const https = require("https");
const path = require("path");

const { io } = require(path.join(__dirname, "..", "node_modules", "socket.io-client"));

const config = JSON.parse(process.argv[2]);
const TRANSPORTS = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] };

const guard = setTimeout(() => {
  process.stderr.write("workers_clients.js timed out\n");
  process.exit(2);
}, config.timeout || 50000);
guard.unref();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(20);
  return check();
}

function makeClient(i) {
  const secure = config.url.startsWith("https:");
  const options = {
    forceNew: true,
    reconnection: false, // a lost session shows as an error instead of a silent new one
    transports: TRANSPORTS[config.mode],
    timeout: 20000,
    rejectUnauthorized: false,
  };
  if (config.keepAlive === false) {
    options.agent = false; // a new connection for every request
  } else {
    options.agent = new (secure ? https : http).Agent({ keepAlive: true, rejectUnauthorized: false });
  }
  const socket = io(config.url, options);
  const client = { i, socket, errors: [], pids: new Set(), sids: new Set(), acks: 0, events: 0, broadcasts: 0, upgraded: false };
  socket.on("connect_error", (err) => client.errors.push(`connect_error: ${err.message}`));
  socket.on("disconnect", (reason, details) => {
    if (!client.closing) client.errors.push(`disconnect: ${reason} ${details ? details.message || details.description || "" : ""}`);
  });
  socket.on("connect", () => {
    client.sids.add(socket.io.engine.id);
    socket.io.engine.on("upgrade", () => (client.upgraded = true));
  });
  // the server asks: the client answers with an ack
  socket.on("ask", (n, ack) => {
    client.events += 1;
    ack(n * 2);
  });
  socket.on("news", (text) => {
    if (text === `news-${config.nonce}`) client.broadcasts += 1;
  });
  return client;
}

async function roundTrip(c, round) {
  const payload = { round, text: "é".repeat(50), data: Buffer.from([c.i & 0xff, round & 0xff, 0, 255]) };
  const answer = await c.socket.timeout(10000).emitWithAck("echo", payload);
  const back = answer.payload;
  if (back.round !== round || back.text !== payload.text || !Buffer.from(back.data).equals(payload.data)) {
    throw new Error(`wrong echo ${JSON.stringify(answer)}`);
  }
  c.pids.add(answer.pid);
  c.acks += 1;
  // the server emits "ask" to this client and waits for its ack
  const asked = await c.socket.timeout(10000).emitWithAck("ask-me", round);
  if (asked !== round * 2) throw new Error(`wrong ask answer ${asked}`);
}

async function main() {
  const clients = Array.from({ length: config.count }, (_, i) => makeClient(i));
  await until(() => clients.every((c) => c.socket.connected || c.errors.length), 25000);
  if (config.mode === "upgrade") {
    await until(() => clients.every((c) => c.upgraded || c.errors.length || !c.socket.connected), 10000);
  }
  for (let round = 0; round < config.rounds; round++) {
    await Promise.all(
      clients.map(async (c) => {
        if (!c.socket.connected) return; // its errors tell why
        try {
          await roundTrip(c, round);
        } catch (err) {
          c.errors.push(`round ${round}: ${err.message}`);
        }
      }),
    );
  }
  const failures = [];
  if (config.broadcast) {
    try {
      await clients[0].socket.timeout(10000).emitWithAck("broadcast", `news-${config.nonce}`);
      await until(() => clients.every((c) => c.broadcasts >= 1), 10000);
      await sleep(300); // a duplicate would arrive by now
    } catch (err) {
      failures.push(`broadcast: ${err.message}`);
    }
  }
  const result = {
    clients: clients.map((c) => ({
      i: c.i,
      connected: c.socket.connected,
      transport: c.socket.connected ? c.socket.io.engine.transport.name : null,
      pids: [...c.pids],
      sids: [...c.sids],
      acks: c.acks,
      events: c.events,
      broadcasts: c.broadcasts,
      errors: c.errors,
    })),
    failures,
  };
  const closed = clients
    .filter((c) => c.socket.connected)
    .map((c) => new Promise((resolve) => c.socket.io.engine.once("close", resolve)));
  for (const c of clients) {
    c.closing = true;
    c.socket.disconnect();
  }
  await Promise.all(closed);
  process.stdout.write(JSON.stringify(result) + "\n");
  // no process.exit() when all went well: Node exits once the last requests (the close
  // packets' POSTs) are done, so that no request is cut and shows on the server as an error;
  // after an error, a request of a broken session may wait for the server's next ping
  if (clients.some((c) => c.errors.length)) process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
