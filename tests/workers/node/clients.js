"use strict";
// Clients of the official socket.io-client against `serve --workers N`.
// argv: node clients.js '<JSON config>'
//   url           the server
//   count         how many clients (transports in turn: polling only, websocket only, upgrade)
//   rounds        how many whoami + echo round trips each client makes after connecting
//   reconnection  reconnect after a lost connection (default false)
//   attempts      reconnection attempts (default: unlimited)
//   load          after the rounds, keep one echo in flight per client until "quit"
// Prints JSON lines: {"ev":"connected"}, {"ev":"rounds"}, then events as they happen
// (disconnect, reconnect, reconnect_failed), and {"ev":"summary"} on the "summary" command
// read from stdin; "bc I ID" makes client I ask its worker to broadcast ID ({"ev":"bc"} when
// it answers); "quit" exits. Each client counts the broadcasts it receives, by id.

const path = require("path");
const readline = require("readline");

const { io } = require(path.join(__dirname, "..", "..", "interop", "node_modules", "socket.io-client"));

const config = JSON.parse(process.argv[2]);
const MODES = ["polling", "websocket", "upgrade"];
const TRANSPORTS = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] };

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function makeClient(i) {
  const mode = MODES[i % MODES.length];
  const socket = io(config.url, {
    forceNew: true,
    transports: TRANSPORTS[mode],
    reconnection: Boolean(config.reconnection),
    reconnectionAttempts: config.attempts || Infinity,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
    timeout: 10000,
  });
  const client = { i, mode, socket, pid: null, pids: [], errors: [], disconnects: [], reconnects: 0, ok: 0, failed: 0, failed_after_reconnect: 0, ok_after_reconnect: 0, gave_up: false, received: {} };
  socket.on("bc", (id) => {
    client.received[id] = (client.received[id] || 0) + 1;
  });
  socket.on("connect_error", (err) => client.errors.push(`connect_error: ${err.message}`));
  socket.on("disconnect", (reason, details) => {
    client.disconnects.push(reason);
    // a transport error's details: "xhr poll error" and the HTTP status (0: no answer)
    const why = details && details.message ? `${details.message} ${details.description}` : "";
    out({ ev: "disconnect", i, reason, details: why });
  });
  socket.io.on("reconnect", () => {
    client.reconnects += 1;
    out({ ev: "reconnect", i });
  });
  socket.io.on("reconnect_failed", () => {
    client.gave_up = true;
    out({ ev: "reconnect_failed", i });
  });
  return client;
}

async function whoami(client) {
  const pid = await client.socket.timeout(5000).emitWithAck("whoami");
  if (!client.pids.includes(pid)) client.pids.push(pid);
  return pid;
}

async function loadLoop(client, state) {
  let n = 0;
  while (!state.quit) {
    if (!client.socket.connected) {
      await sleep(20);
      continue;
    }
    const value = { i: client.i, n: n++ };
    try {
      const back = await client.socket.timeout(3000).emitWithAck("echo", value);
      if (back.i !== value.i || back.n !== value.n) throw new Error("wrong echo");
      client.ok += 1;
      if (client.reconnects) client.ok_after_reconnect += 1;
      if (client.reconnects && client.ok_after_reconnect === 1) await whoami(client).catch(() => {});
    } catch (err) {
      client.failed += 1;
      if (client.reconnects) client.failed_after_reconnect += 1;
    }
    await sleep(10);
  }
}

function summary(clients) {
  return clients.map((c) => ({
    i: c.i, mode: c.mode, pid: c.pid, pids: c.pids, errors: c.errors.slice(0, 5),
    disconnects: c.disconnects, reconnects: c.reconnects, ok: c.ok, failed: c.failed,
    ok_after_reconnect: c.ok_after_reconnect, failed_after_reconnect: c.failed_after_reconnect,
    gave_up: c.gave_up, received: c.received,
    transport: c.socket.io.engine ? c.socket.io.engine.transport.name : null,
  }));
}

async function main() {
  const clients = Array.from({ length: config.count }, (_, i) => makeClient(i));
  const deadline = Date.now() + 15000;
  while (!clients.every((c) => c.socket.connected) && Date.now() < deadline) await sleep(20);
  await Promise.all(clients.map(async (c) => {
    if (c.socket.connected) c.pid = await whoami(c).catch((err) => { c.errors.push(`whoami: ${err.message}`); });
  }));
  out({ ev: "connected", clients: summary(clients) });

  let failed = 0;
  for (let round = 0; round < (config.rounds || 0); round++) {
    await Promise.all(clients.map(async (c) => {
      try {
        await whoami(c);
        const back = await c.socket.timeout(5000).emitWithAck("echo", { round, i: c.i, text: "é✓" });
        if (back.round !== round || back.i !== c.i || back.text !== "é✓") throw new Error("wrong echo");
      } catch (err) {
        failed += 1;
        c.errors.push(`round ${round}: ${err.message}`);
      }
    }));
  }
  await sleep(300); // upgrades done
  out({ ev: "rounds", failed, clients: summary(clients) });

  const state = { quit: false };
  const loops = config.load ? clients.map((c) => loadLoop(c, state)) : [];
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const command = line.trim();
    if (command === "summary") out({ ev: "summary", clients: summary(clients) });
    if (command.startsWith("bc ")) {
      const [, i, id] = command.split(" ");
      clients[Number(i)].socket.timeout(5000).emitWithAck("bc", id).then(
        (pid) => out({ ev: "bc", id, pid }),
        (err) => out({ ev: "bc", id, error: err.message }),
      );
    }
    if (command === "quit") break;
  }
  state.quit = true;
  await Promise.all(loops);
  for (const c of clients) c.socket.disconnect();
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${(err && err.stack) || err}\n`);
  process.exit(1);
});
