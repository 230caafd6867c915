// The line protocol between a Python test and a long-running Node script: the test writes one
// JSON command per line on stdin ({"id": n, "op": "...", ...}), the script prints one JSON
// object per line on stdout: {"ev": "result", "id": n, "ok": true, "value": ...} (or
// "ok": false, "error": "...") for each command, and {"ev": "...", ...} for what it observes.
// Binary values travel as {"$bin": "<base64>"} in both directions.
"use strict";

const readline = require("readline");

function toWire(value) {
  if (Buffer.isBuffer(value)) {
    return { $bin: value.toString("base64") };
  }
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (value instanceof ArrayBuffer) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) {
    return value.map(toWire);
  }
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== "function") out[k] = toWire(v);
    }
    return out;
  }
  return value;
}

function fromWire(value) {
  if (Array.isArray(value)) {
    return value.map(fromWire);
  }
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "base64");
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromWire(v);
    return out;
  }
  return value;
}

function say(obj) {
  process.stdout.write(JSON.stringify(toWire(obj)) + "\n");
}

// serve(handlers): run handlers[op](command) for each command, print its result
function serve(handlers, onClose) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    if (!line.trim()) return;
    const command = fromWire(JSON.parse(line));
    const handler = handlers[command.op];
    try {
      if (!handler) throw new Error(`unknown op ${command.op}`);
      const value = await handler(command);
      say({ ev: "result", id: command.id, ok: true, value: value === undefined ? null : value });
    } catch (err) {
      say({ ev: "result", id: command.id, ok: false, error: String((err && err.message) || err) });
    }
  });
  rl.on("close", () => onClose());
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

module.exports = { arg, fromWire, say, serve, toWire };
