// The official @socket.io/postgres-emitter 0.1, driven by a Python test through stdin/stdout
// (the line protocol of ../node_cluster/control.js).
//
//   node emitter.js --postgres postgresql://postgres@127.0.0.1/test --prefix <channel prefix>
//                   --table <attachments table>
//
// Ops: emit, socketsJoin, socketsLeave, disconnectSockets, serverSideEmit; each takes nsp,
// rooms, except, volatile as the server scripts do.
"use strict";

const { Pool } = require("pg");
const { Emitter } = require("@socket.io/postgres-emitter");
const { arg, say, serve } = require("../node_cluster/control");

const connectionString = arg("postgres", "postgresql://postgres@127.0.0.1/test");
const channelPrefix = arg("prefix", "socket.io");
const tableName = arg("table", "socket_io_attachments");

const pool = new Pool({ connectionString, max: 2 });
pool.on("error", (err) => process.stderr.write(`postgres error: ${err}\n`));
const emitter = new Emitter(pool, "/", { channelPrefix, tableName });

const target = (c) => {
  let op = c.nsp && c.nsp !== "/" ? new Emitter(pool, c.nsp, { channelPrefix, tableName }) : emitter;
  if (c.rooms && c.rooms.length) op = op.to(c.rooms);
  if (c.except && c.except.length) op = op.except(c.except);
  if (c.volatile) op = op.volatile;
  return op;
};

// the emitter publishes in the background: wait until its queries are done
const settled = () => new Promise((resolve) => setTimeout(resolve, 50));

serve(
  {
    emit: async (c) => {
      target(c).emit(c.event, ...(c.args || []));
      await settled();
    },
    socketsJoin: async (c) => {
      target(c).socketsJoin(c.join);
      await settled();
    },
    socketsLeave: async (c) => {
      target(c).socketsLeave(c.leave);
      await settled();
    },
    disconnectSockets: async (c) => {
      target(c).disconnectSockets(!!c.close);
      await settled();
    },
    serverSideEmit: async (c) => {
      target(c).serverSideEmit(c.event, ...(c.args || []));
      await settled();
    },
  },
  async () => {
    await pool.end();
    process.exit(0);
  },
);

say({ ev: "ready" });
