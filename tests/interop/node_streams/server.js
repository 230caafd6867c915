// A socket.io 4.8 server with the official @socket.io/redis-streams-adapter 0.3, driven by a
// Python test through stdin/stdout (the line protocol of ../node_cluster/control.js).
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

const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const { arg, say, serve } = require("../node_cluster/control");

const url = arg("redis", "redis://127.0.0.1:6379");
const streamName = arg("stream", "socket.io");
const channelPrefix = arg("prefix", "socket.io");
const sessionKeyPrefix = arg("session-prefix", "sio:session:");
const recovery = arg("recovery", "0") === "1";
const namespaces = arg("nsps", "/").split(",");

async function main() {
  const redisClient = createClient({ url });
  redisClient.on("error", (err) => process.stderr.write(`redis error: ${err}\n`));
  await redisClient.connect();

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    pingInterval: 10000,
    adapter: createAdapter(redisClient, {
      streamName,
      channelPrefix,
      sessionKeyPrefix,
      blockTimeInMs: 1000,
    }),
    ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 60000 } } : {}),
  });

  for (const name of namespaces) {
    const nsp = io.of(name);
    nsp.on("connection", (socket) => {
      if (!socket.recovered) socket.data = { lang: "node" };
      say({ ev: "connection", nsp: name, id: socket.id, recovered: socket.recovered });
      socket.on("ack-me", (...args) => {
        const cb = args.pop();
        cb(["node-ack", ...args]);
      });
    });
    for (const event of ["hello", "ask", "binary"]) {
      nsp.on(event, (...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
        say({ ev: "server_side", nsp: name, event, args });
        if (cb) cb(`node:${JSON.stringify(args[0])}`);
      });
    }
  }

  const target = (c) => {
    let op = io.of(c.nsp || "/");
    if (c.rooms && c.rooms.length) op = op.to(c.rooms);
    if (c.except && c.except.length) op = op.except(c.except);
    if (c.local) op = op.local;
    if (c.volatile) op = op.volatile;
    return op;
  };

  const describe = (s) => ({
    id: s.id,
    rooms: [...s.rooms].sort(),
    data: s.data,
    auth: s.handshake.auth,
    remote: s.constructor.name === "RemoteSocket",
  });

  const findRemote = async (c) => {
    const sockets = await io.of(c.nsp || "/").fetchSockets();
    const socket = sockets.find((s) => s.id === c.sid);
    if (!socket) throw new Error(`no socket ${c.sid}`);
    return socket;
  };

  serve(
    {
      emit: (c) => {
        target(c).emit(c.event, ...(c.args || []));
      },
      emitWithAck: (c) =>
        target(c).timeout(c.timeout || 2000).emitWithAck(c.event, ...(c.args || [])),
      fetchSockets: async (c) => (await target(c).fetchSockets()).map(describe),
      serverCount: (c) => io.of(c.nsp || "/").adapter.serverCount(),
      socketsJoin: (c) => {
        target(c).socketsJoin(c.join);
      },
      socketsLeave: (c) => {
        target(c).socketsLeave(c.leave);
      },
      disconnectSockets: (c) => {
        target(c).disconnectSockets(!!c.close);
      },
      serverSideEmit: async (c) => {
        const nsp = io.of(c.nsp || "/");
        if (c.ack) return nsp.serverSideEmitWithAck(c.event, ...(c.args || []));
        nsp.serverSideEmit(c.event, ...(c.args || []));
      },
      join: (c) => {
        io.of(c.nsp || "/").sockets.get(c.sid).join(c.rooms);
      },
      setData: (c) => {
        io.of(c.nsp || "/").sockets.get(c.sid).data = c.data;
      },
      socketEmit: (c) => {
        io.of(c.nsp || "/").sockets.get(c.sid).emit(c.event, ...(c.args || []));
      },
      localSockets: (c) => [...io.of(c.nsp || "/").sockets.values()].map(describe),
      remoteEmit: async (c) => {
        (await findRemote(c)).emit(c.event, ...(c.args || []));
      },
      remoteEmitWithAck: async (c) =>
        (await findRemote(c)).timeout(c.timeout || 2000).emitWithAck(c.event, ...(c.args || [])),
      remoteJoin: async (c) => {
        (await findRemote(c)).join(c.rooms);
      },
      remoteLeave: async (c) => {
        (await findRemote(c)).leave(c.room);
      },
      remoteDisconnect: async (c) => {
        (await findRemote(c)).disconnect(!!c.close);
      },
    },
    () => shutdown(),
  );

  let closing = false;
  async function shutdown() {
    if (closing) return;
    closing = true;
    io.close();
    await Promise.allSettled([redisClient.quit()]);
    process.exit(0);
  }
  process.on("SIGTERM", shutdown);

  httpServer.listen(0, "127.0.0.1", () => {
    // the adapter subscribes and starts reading asynchronously: give it a moment
    setTimeout(() => say({ ev: "ready", port: httpServer.address().port }), 100);
  });
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(1);
});
