// What the socket.io 4.8 servers of the cluster tests (../node_cluster, ../node_postgres,
// ../node_streams: server.js) share; each of them only sets up its adapter. The server is driven
// by a Python test through stdin/stdout (the line protocol of ../node_cluster/control.js).
//
// runServer({ setUp, readyDelay, connectionEvents, socketEmit }): `await setUp()` connects
// the adapter's clients and returns { options, close }: the Server options (`adapter` and any
// other) and a function that closes those clients at shutdown. The server listens on a free
// port of 127.0.0.1 and prints {"ev": "ready", "port": N} readyDelay ms later (the adapter
// subscribes asynchronously); then {"ev": "server_side", "nsp", "event", "args"} for each
// server-side event "hello", "ask" or "binary" it gets (answered with "node:<first argument>"
// when the sender asked for an acknowledgement), and, with connectionEvents,
// {"ev": "connection", "nsp", "id", "recovered"} for each new socket. Every socket answers
// "ack-me" with ["node-ack", ...args]. The namespaces are those of --nsps (default "/"); the
// command "socketEmit" is there only with socketEmit.
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { arg, say, serve } = require("../node_cluster/control");

// The commands that act on the broadcast operator target(command): of a server, or of an
// emitter (../node_cluster/emitter.js).
function broadcastCommands(target) {
  return {
    emit: (c) => {
      target(c).emit(c.event, ...(c.args || []));
    },
    socketsJoin: (c) => {
      target(c).socketsJoin(c.join);
    },
    socketsLeave: (c) => {
      target(c).socketsLeave(c.leave);
    },
    disconnectSockets: (c) => {
      target(c).disconnectSockets(!!c.close);
    },
  };
}

async function main({ setUp, readyDelay, connectionEvents = false, socketEmit = false }) {
  const namespaces = arg("nsps", "/").split(",");
  const { options, close } = await setUp();

  const httpServer = http.createServer();
  const io = new Server(httpServer, { pingInterval: 10000, ...options });

  for (const name of namespaces) {
    const nsp = io.of(name);
    nsp.on("connection", (socket) => {
      // a recovered socket keeps its data (only with connectionStateRecovery)
      if (!socket.recovered) socket.data = { lang: "node" };
      if (connectionEvents) {
        say({ ev: "connection", nsp: name, id: socket.id, recovered: socket.recovered });
      }
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

  const commands = {
    ...broadcastCommands(target),
    emitWithAck: (c) =>
      target(c).timeout(c.timeout || 2000).emitWithAck(c.event, ...(c.args || [])),
    fetchSockets: async (c) => (await target(c).fetchSockets()).map(describe),
    serverCount: (c) => io.of(c.nsp || "/").adapter.serverCount(),
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
  };
  if (socketEmit) {
    commands.socketEmit = (c) => {
      io.of(c.nsp || "/").sockets.get(c.sid).emit(c.event, ...(c.args || []));
    };
  }
  serve(commands, () => shutdown());

  let closing = false;
  async function shutdown() {
    if (closing) return;
    closing = true;
    io.close();
    await close();
    process.exit(0);
  }
  process.on("SIGTERM", shutdown);

  httpServer.listen(0, "127.0.0.1", () => {
    setTimeout(() => say({ ev: "ready", port: httpServer.address().port }), readyDelay);
  });
}

function runServer(setup) {
  main(setup).catch((err) => {
    process.stderr.write(`${err && err.stack}\n`);
    process.exit(1);
  });
}

module.exports = { broadcastCommands, runServer };
