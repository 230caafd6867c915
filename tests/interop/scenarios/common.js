"use strict";
// Shared plumbing for the interop scenarios: argv parsing, JSON-line output, exit guard.
// argv: node <scenario>.js <port> <transport mode> [extra...]
// transport mode: "websocket" | "polling" | "upgrade" (polling first, then websocket)

const path = require("path");

const ioc = require(path.join(__dirname, "..", "node_modules", "socket.io-client"));
const { once } = require("./helpers");

const port = Number(process.argv[2]);
const mode = process.argv[3] || "websocket";
const extra = process.argv.slice(4);
const url = `http://127.0.0.1:${port}`;

function transportOptions(m = mode) {
  switch (m) {
    case "websocket":
      return { transports: ["websocket"] };
    case "polling":
      return { transports: ["polling"] };
    case "upgrade":
      return { transports: ["polling", "websocket"], upgrade: true };
    default:
      throw new Error(`unknown transport mode ${m}`);
  }
}

// One observation per line, flushed in order.
function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// A scenario that does not finish in time exits with status 2 (the test then fails).
function guard(ms = 10000) {
  const timer = setTimeout(() => {
    process.stderr.write(`scenario timed out after ${ms} ms\n`);
    process.exit(2);
  }, ms);
  timer.unref();
  return timer;
}

// Open a client socket (forceNew, no reconnection unless asked) on a namespace.
function connect(nsp = "/", opts = {}) {
  return ioc(url + nsp, {
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...transportOptions(opts.mode),
    ...opts,
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Wait until the engine of a socket runs over WebSocket (mode "upgrade").
async function waitUpgraded(socket, ms = 5000) {
  const engine = socket.io.engine;
  if (engine.transport.name !== "websocket") {
    await once(engine, "upgrade", ms);
  }
}

// Disconnect sockets and wait until their connections are closed: the manager closes its
// engine once it has no connected socket left, after the DISCONNECT packets were written.
async function disconnectAll(sockets, ms = 5000) {
  const engines = new Set();
  for (const socket of sockets) {
    const engine = socket.io.engine;
    if (engine && engine.readyState !== "closed") engines.add(engine);
  }
  const closed = [...engines].map((engine) => once(engine, "close", ms));
  for (const socket of sockets) socket.disconnect();
  await Promise.all(closed);
}

// Run an async main; print the error and exit 1 on failure, exit 0 otherwise.
function run(main, ms) {
  guard(ms);
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err && err.stack) || err}\n`);
      process.exit(1);
    }
  );
}

// A Buffer whose bytes are (i * 7 + seed) mod 256: cheap to rebuild on the Python side.
function pattern(size, seed = 0) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 7 + seed) & 0xff;
  return buf;
}

module.exports = {
  ioc,
  port,
  mode,
  extra,
  url,
  transportOptions,
  out,
  guard,
  connect,
  once,
  sleep,
  waitUpgraded,
  disconnectAll,
  run,
  pattern,
};
