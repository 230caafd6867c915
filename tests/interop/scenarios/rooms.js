"use strict";
// Scenario 4: rooms and broadcast exclusion with three clients A, B and C.
// A joins room "r"; B asks the server to broadcast; every client records the events it gets
// until the final "end" (sent last to everyone, so nothing is still on its way).
const { connect, out, once, run, disconnectAll } = require("./common");

run(async () => {
  const names = ["A", "B", "C"];
  const clients = {};
  const received = {};
  const ended = [];
  for (const name of names) {
    const socket = connect("/", { auth: { name } });
    received[name] = [];
    socket.onAny((event, ...args) => received[name].push([event, ...args]));
    ended.push(once(socket, "end", 5000));
    clients[name] = socket;
  }
  await Promise.all(names.map((name) => once(clients[name], "connect")));

  out({ ev: "joined", ack: await clients.A.emitWithAck("join", "r") });
  out({ ev: "fired", ack: await clients.B.emitWithAck("fire") });
  await Promise.all(ended);
  for (const name of names) out({ ev: "received", name, events: received[name] });
  await disconnectAll(Object.values(clients));
}, 10000);
