// The official @socket.io/redis-emitter 5.1, driven by a Python test through stdin/stdout
// (see control.js).
//
//   node emitter.js --redis redis://127.0.0.1:6379 --key <prefix>
//
// Prints {"ev": "ready"} once connected. Commands: emit, socketsJoin, socketsLeave,
// disconnectSockets, serverSideEmit; each with nsp, rooms, except as the operator's targets.
"use strict";

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");
const { arg, say, serve } = require("./control");
const { broadcastCommands } = require("../node_common/cluster_server");

const url = arg("redis", "redis://127.0.0.1:6379");
const key = arg("key", "socket.io");

async function main() {
  const client = createClient({ url });
  client.on("error", (err) => process.stderr.write(`redis error: ${err}\n`));
  await client.connect();
  const root = new Emitter(client, { key });

  const target = (c) => {
    let op = c.nsp && c.nsp !== "/" ? root.of(c.nsp) : root;
    if (c.rooms && c.rooms.length) op = op.to(c.rooms);
    if (c.except && c.except.length) op = op.except(c.except);
    if (c.volatile) op = op.volatile;
    return op;
  };

  serve(
    {
      ...broadcastCommands(target),
      serverSideEmit: (c) => {
        const emitter = c.nsp && c.nsp !== "/" ? root.of(c.nsp) : root;
        emitter.serverSideEmit(c.event, ...(c.args || []));
      },
    },
    async () => {
      await client.quit();
      process.exit(0);
    },
  );
  say({ ev: "ready" });
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
