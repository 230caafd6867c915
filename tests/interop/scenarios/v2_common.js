"use strict";
// Plumbing for the scenarios of socket.io-client 2.5.0 (Engine.IO v3, Socket.IO protocol v4)
// against a server with allow_eio3: the v2 client, its transport modes, and what common.js
// already has (output, guard, once, run).
// argv: node <scenario>.js <port> <transport mode> [extra...]

const path = require("path");
const common = require("./common");
const helpers = require("./helpers");

const iov2 = require(path.join(__dirname, "..", "node_modules", "socket.io-client-v2"));

// Open a v2 client socket (forceNew, no reconnection unless asked) on a namespace, whose
// query (the v2 client's only way to send data with a connection) goes in `nsp`.
function connectV2(nsp = "/", opts = {}) {
  return iov2(common.url + nsp, {
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...common.transportOptions(opts.mode),
    ...opts,
  });
}

// Bytes as JSON can carry them.
const hex = (value) => (Buffer.isBuffer(value) ? { hex: value.toString("hex") } : value);

module.exports = { ...common, ...helpers, iov2, connectV2, hex };
