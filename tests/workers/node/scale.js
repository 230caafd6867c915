"use strict";
// Hundreds of clients of the official socket.io-client against a server with several
// workers (tests/workers/test_scale.py), and a few more in a Chromium page.
// argv: node scale.js '<JSON config>'
//   url      the server (it serves /scale.html: tests/workers/workers_app.py)
//   count    how many Node clients (transports in turn: polling only, WebSocket only, upgrade)
//   browser  a Chromium profile directory: 3 more clients in a page (one per mode); or null
// Broadcasts go out from one client's worker, then from every worker at once; broadcasts
// with acks from every worker; one fetch_sockets with remote operations; then one last
// broadcast from every worker (a fence: a duplicate of an earlier one would come before it).
// Prints one JSON line: the broadcasts' ids, what the server answered, what every client saw.

const path = require("path");

const { io } = require(path.join(__dirname, "..", "..", "interop", "node_modules", "socket.io-client"));
const Client = require("./scale_client.js");

const config = JSON.parse(process.argv[2]);
const MODES = ["polling", "websocket", "upgrade"];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await sleep(50);
  return check();
}

/** The Node clients and the page's, behind the same few calls. */
function nodeGroup(count) {
  const clients = Array.from({ length: count }, (_, i) => Client.makeClient(io, config.url, i, MODES[i % 3], "node"));
  return {
    clients,
    settled: () => clients.every((c) => c.socket.connected || c.errors.length),
    whoami: () => Promise.all(clients.map(Client.whoami)),
    ready: () => clients.every(Client.ready),
    hasAll: (ids) => clients.every((c) => Client.hasAll(c, ids) && c.direct >= 1),
    reports: () => clients.map(Client.report),
    close: () => clients.forEach(Client.close),
  };
}

async function pageGroup(first) {
  const { launch } = require(path.join(__dirname, "..", "..", "browser", "chromium.js"));
  const context = await launch(config.browser);
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  await page.goto(`${config.url}/scale.html`);
  await page.evaluate(([n, modes]) => window.scale.start(n, modes), [first, MODES]);
  const call = (name, arg) => page.evaluate(([f, a]) => window.scale[f](a), [name, arg]);
  return {
    settled: () => call("settled"),
    whoami: () => call("whoami"),
    ready: () => call("ready"),
    hasAll: (ids) => call("hasAll", ids),
    reports: async () => (await call("reports")).map((r) => ({ ...r, errors: [...r.errors, ...errors] })),
    close: async () => {
      await call("close");
      await context.close();
    },
  };
}

async function all(groups, name, arg) {
  return (await Promise.all(groups.map((g) => g[name](arg)))).every(Boolean);
}

async function ask(client, failures, event, arg) {
  try {
    return await client.socket.timeout(40000).emitWithAck(event, arg);
  } catch (err) {
    failures.push(`${event} ${arg} from ${client.i}: ${err.message}`);
    return null;
  }
}

async function main() {
  const started = Date.now();
  const node = nodeGroup(config.count);
  const groups = [node];
  if (config.browser) groups.push(await pageGroup(config.count));
  const failures = [];
  if (!(await until(() => all(groups, "settled"), 60000))) failures.push("not every client connected");
  await Promise.all(groups.map((g) => g.whoami()));
  if (!(await until(() => all(groups, "ready"), 30000))) failures.push("not every client upgraded");
  const connected = Date.now();

  // one client per worker sends that worker's broadcasts
  const origins = new Map();
  for (const c of node.clients) if (c.pid !== null && c.socket.connected && !origins.has(c.pid)) origins.set(c.pid, c);
  const senders = [...origins.values()];
  const ids = [];
  const first = node.clients[0];
  for (let k = 0; k < 5; k++) {
    ids.push(`one-${k}`);
    await ask(first, failures, "bc", `one-${k}`);
  }
  await Promise.all(senders.map(async (c) => {
    const mine = [0, 1, 2].map((k) => `many-${c.pid}-${k}`);
    ids.push(...mine);
    await Promise.all(mine.map((id) => ask(c, failures, "bc", id)));
  }));
  const acks = await Promise.all(senders.map((c) => ask(c, failures, "bc-ack", `ack-${c.pid}`)));
  const fetched = await ask(first, failures, "fetch", "fetched");
  ids.push("fetched");
  const fences = senders.map((c) => `fence-${c.pid}`);
  ids.push(...fences);
  await Promise.all(senders.map((c) => ask(c, failures, "bc", `fence-${c.pid}`)));
  if (!(await until(() => all(groups, "hasAll", ids), 60000))) failures.push("not every broadcast arrived");

  const reports = (await Promise.all(groups.map((g) => g.reports()))).flat();
  const closed = node.clients
    .filter((c) => c.socket.connected)
    .map((c) => new Promise((resolve) => c.socket.io.engine.once("close", resolve)));
  await Promise.all(groups.map((g) => g.close()));
  await Promise.all(closed);
  const seconds = { connect: (connected - started) / 1000, total: (Date.now() - started) / 1000 };
  process.stdout.write(JSON.stringify({ ids, origins: [...origins.keys()], acks, fetched, failures, seconds, clients: reports }) + "\n");
  // no process.exit(): Node exits once the last requests (the close packets' POSTs) are done
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
