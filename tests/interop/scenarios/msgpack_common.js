"use strict";
// Shared by the msgpack scenarios: the msgpack parser, and a JSON description of decoded
// values that keeps what JSON would lose (Buffer, ArrayBuffer, Date, undefined).

const path = require("path");

const parser = require(path.join(__dirname, "..", "node_modules", "socket.io-msgpack-parser"));
const crypto = require("crypto");

// Buffers longer than this are described by length and SHA-256 instead of hex.
const SHORT = 64;

function describeBytes(tag, buf) {
  if (buf.length <= SHORT) return { [tag]: buf.toString("hex") };
  return { [tag]: { len: buf.length, sha256: crypto.createHash("sha256").update(buf).digest("hex") } };
}

function describe(value) {
  if (value === undefined) return { $undefined: true };
  if (Buffer.isBuffer(value)) return describeBytes("$buffer", value);
  if (value instanceof ArrayBuffer) return describeBytes("$arraybuffer", Buffer.from(value));
  if (value instanceof Date) return { $date: value.getTime() };
  if (typeof value === "number" && !Number.isFinite(value)) return { $number: String(value) };
  if (Array.isArray(value)) return value.map(describe);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = describe(v);
    return out;
  }
  return value;
}

module.exports = { parser, describe };
