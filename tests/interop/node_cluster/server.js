// A socket.io 4.8 server with the official @socket.io/redis-adapter 8.3, driven by a Python
// test through stdin/stdout (see control.js; the server itself is ../node_common/cluster_server.js).
//
//   node server.js --redis redis://127.0.0.1:6379 --key <prefix> --mode classic|sharded
//
// Prints {"ev": "ready", "port": N} once listening on a free port of 127.0.0.1 with its adapter
// subscribed; then {"ev": "server_side", "nsp", "args"} for each server-side event it gets
// (answered with "node:<first argument>" when the sender asked for an acknowledgement).
// Every client gets listeners: "ack-me" (answered with ["node-ack", ...args]).
"use strict";

const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { arg } = require("./control");
const { runServer } = require("../node_common/cluster_server");

const url = arg("redis", "redis://127.0.0.1:6379");
const key = arg("key", "socket.io");
const mode = arg("mode", "classic");
const timeout = Number(arg("request-timeout", "2000"));

runServer({
  // the adapter subscribes asynchronously: give Redis a moment to register it
  readyDelay: 50,
  async setUp() {
    const pubClient = createClient({ url });
    const subClient = pubClient.duplicate();
    for (const client of [pubClient, subClient]) {
      client.on("error", (err) => process.stderr.write(`redis error: ${err}\n`));
    }
    await Promise.all([pubClient.connect(), subClient.connect()]);
    return {
      options: {
        adapter:
          mode === "sharded"
            ? createShardedAdapter(pubClient, subClient, { channelPrefix: key })
            : createAdapter(pubClient, subClient, { key, requestsTimeout: timeout }),
      },
      close: () => Promise.allSettled([pubClient.quit(), subClient.quit()]),
    };
  },
});
