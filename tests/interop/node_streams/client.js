// The official socket.io-client 4.8, driven by a Python test through stdin/stdout (the line
// protocol of ../node_cluster/control.js), to test connection state recovery across servers.
//
//   node client.js
//
// Ops: connect {port} -> {id, recovered}; events -> the events received so far ([name,
// ...args]), emptied; drop -> closes the Engine.IO connection (a "transport close" for the
// server) without reconnecting; reconnect {port} -> a new connection to that port that offers
// the session (pid and last offset) of the previous one -> {id, recovered}; session -> {pid,
// offset}.
"use strict";

const { io } = require("socket.io-client");
const { say, serve } = require("../node_cluster/control");

let socket = null;
let events = [];

function open(port, session) {
  const next = io(`http://127.0.0.1:${port}`, {
    transports: ["websocket"],
    reconnection: false,
    autoConnect: false,
    forceNew: true,
  });
  if (session) {
    next._pid = session.pid;
    next._lastOffset = session.offset;
  }
  next.onAny((...args) => events.push(args));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("connect timeout")), 5000);
    next.once("connect", () => {
      clearTimeout(timer);
      socket = next;
      resolve({ id: next.id, recovered: next.recovered });
    });
    next.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    next.connect();
  });
}

serve(
  {
    connect: (c) => open(c.port),
    events: () => {
      const out = events;
      events = [];
      return out;
    },
    session: () => ({ pid: socket._pid, offset: socket._lastOffset }),
    drop: () =>
      new Promise((resolve) => {
        socket.once("disconnect", (reason) => resolve(reason));
        socket.io.engine.close();
      }),
    reconnect: (c) => {
      const session = { pid: socket._pid, offset: socket._lastOffset };
      socket.close();
      return open(c.port, session);
    },
  },
  () => {
    if (socket) socket.close();
    process.exit(0);
  },
);

say({ ev: "ready" });
