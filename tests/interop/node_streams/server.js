// A socket.io 4.8 server with the official @socket.io/redis-streams-adapter 0.3, driven by a
// Python test through stdin/stdout (the line protocol of ../node_cluster/control.js; the server
// itself is ../node_common/cluster_server.js).
//
//   node server.js --redis redis://127.0.0.1:6379 --stream <name> --prefix <channel prefix>
//                  --session-prefix <key prefix> [--recovery 1]
//
// Prints {"ev": "ready", "port": N} once listening on a free port of 127.0.0.1; then
// {"ev": "server_side", "nsp", "event", "args"} for each server-side event it gets (answered
// with "node:<first argument>" when the sender asked for an acknowledgement), and
// {"ev": "connection", "id", "recovered"} for each new socket. Every socket answers "ack-me"
// with ["node-ack", ...args].
"use strict";

const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { arg } = require("../node_cluster/control");
const { runServer } = require("../node_common/cluster_server");

const url = arg("redis", "redis://127.0.0.1:6379");
const streamName = arg("stream", "socket.io");
const channelPrefix = arg("prefix", "socket.io");
const sessionKeyPrefix = arg("session-prefix", "sio:session:");
const recovery = arg("recovery", "0") === "1";

runServer({
  // the adapter subscribes and starts reading asynchronously: give it a moment
  readyDelay: 100,
  connectionEvents: true,
  socketEmit: true,
  async setUp() {
    const redisClient = createClient({ url });
    redisClient.on("error", (err) => process.stderr.write(`redis error: ${err}\n`));
    await redisClient.connect();
    return {
      options: {
        adapter: createAdapter(redisClient, {
          streamName,
          channelPrefix,
          sessionKeyPrefix,
          blockTimeInMs: 1000,
        }),
        ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 60000 } } : {}),
      },
      close: () => Promise.allSettled([redisClient.quit()]),
    };
  },
});
