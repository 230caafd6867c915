"use strict";
// Plumbing for the scenarios of socket.io-client 2.5.0 (Engine.IO v3, Socket.IO protocol v4)
// against a server with allow_eio3: the v2 client, its transport modes, and what common.js
// already has (output, guard, once, run).
// argv: node <scenario>.js <port> <transport mode> [extra...]

const path = require("path");
const common = require("./common");

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

// Resolve with the first of several events: [name, ...args].
function first(emitter, events, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`none of ${events} within ${ms} ms`)), ms);
    for (const event of events) {
      emitter.once(event, (...args) => {
        clearTimeout(timer);
        resolve([event, ...args]);
      });
    }
  });
}

// emit with an acknowledgement, as a promise of the ack's arguments
function ask(socket, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${args[0]}`)), 5000);
    socket.emit(...args, (...answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

// Bytes as JSON can carry them.
const hex = (value) => (Buffer.isBuffer(value) ? { hex: value.toString("hex") } : value);

module.exports = { ...common, iov2, connectV2, first, ask, hex };
