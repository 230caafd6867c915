// A socket.io 4.8 server with the official @socket.io/postgres-adapter 0.5, driven by a
// Python test through stdin/stdout (the line protocol of ../node_cluster/control.js; the server
// itself is ../node_common/cluster_server.js).
//
//   node server.js --postgres postgresql://postgres@127.0.0.1/test --prefix <channel prefix>
//                  --table <attachments table>
//
// Prints {"ev": "ready", "port": N} once listening on a free port of 127.0.0.1; then
// {"ev": "server_side", "nsp", "event", "args"} for each server-side event it gets (answered
// with "node:<first argument>" when the sender asked for an acknowledgement), and
// {"ev": "connection", "id", "recovered"} for each new socket. Every socket answers "ack-me"
// with ["node-ack", ...args].
"use strict";

const { Pool } = require("pg");
const { createAdapter } = require("@socket.io/postgres-adapter");
const { arg } = require("../node_cluster/control");
const { runServer } = require("../node_common/cluster_server");

const connectionString = arg("postgres", "postgresql://postgres@127.0.0.1/test");
const channelPrefix = arg("prefix", "socket.io");
const tableName = arg("table", "socket_io_attachments");

runServer({
  // the adapter LISTENs asynchronously: give it a moment
  readyDelay: 200,
  connectionEvents: true,
  socketEmit: true,
  async setUp() {
    const pool = new Pool({ connectionString, max: 4 });
    pool.on("error", (err) => process.stderr.write(`postgres error: ${err}\n`));
    // the adapter's LISTEN client has no "error" listener: without this one, a lost
    // connection crashes the process (the adapter reconnects on "end")
    pool.on("connect", (client) =>
      client.on("error", (err) => process.stderr.write(`postgres client error: ${err}\n`)),
    );
    return {
      options: {
        adapter: createAdapter(pool, {
          channelPrefix,
          tableName,
          errorHandler: (err) => process.stderr.write(`adapter error: ${err}\n`),
        }),
      },
      close: () => Promise.allSettled([pool.end()]),
    };
  },
});
