"use strict";
// A socket.io 4.8 server with allowEIO3: the reference for the bytes that aiosocketio's
// server (allow_eio3=True) must send to Engine.IO v3 clients (test_eio3_vs_node.py, whose
// python_app() has the same handlers).
// argv: node eio3_server.js <port> [options JSON]
//   options: { pingInterval: ms, pingTimeout: ms, maxHttpBufferSize: n, allowEIO3: bool }
// Prints {"port": N} once listening; exits when stdin closes (the test ended).

const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "..", "node_modules", "socket.io"));

const port = Number(process.argv[2] || 0);
const options = JSON.parse(process.argv[3] || "{}");

const httpServer = http.createServer();
const io = new Server(httpServer, {
  allowEIO3: options.allowEIO3 !== false,
  pingInterval: options.pingInterval || 25000,
  pingTimeout: options.pingTimeout || 20000,
  maxHttpBufferSize: options.maxHttpBufferSize || 1e6,
  httpCompression: false,
});

function attach(socket) {
  // acknowledges with its arguments
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  // sends its arguments back as an "echo" event
  socket.on("emit-back", (...args) => socket.emit("echo", ...args));
  // binary: the bytes reversed, and a nested buffer
  socket.on("bin", (data, ack) => ack(Buffer.from(data).reverse(), { nested: [Buffer.from([1, 2, 3])] }));
  socket.on("info", (ack) =>
    ack({
      id: socket.id,
      nsp: socket.nsp.name,
      auth: socket.handshake.auth,
      query: { q: socket.handshake.query.q || null, EIO: socket.handshake.query.EIO },
      protocol: socket.conn.protocol,
    })
  );
  // the server asks the client (an ack from the client), then acknowledges its answer
  socket.on("ask", (question, ack) => {
    socket.emit("question", question, (answer) => ack({ answer }));
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(room);
  });
  socket.on("broadcast", (room, ...args) => io.of(socket.nsp.name).to(room).emit(...args));
  socket.on("disconnect-me", () => socket.disconnect());
  socket.on("close-me", () => socket.disconnect(true));
  socket.on("disconnect", (reason) => {
    process.stdout.write(JSON.stringify({ disconnect: socket.id, nsp: socket.nsp.name, reason }) + "\n");
  });
}

io.use((socket, next) => {
  if (socket.handshake.query.refuse === "main") return next(new Error("refused main"));
  next();
});
io.on("connection", attach);
io.of("/chat").on("connection", attach);

const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { code: 401 };
  next(err);
});
admin.on("connection", attach);

const plain = io.of("/plain");
plain.use((socket, next) => next(new Error("no entry")));

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

process.stdin.on("end", () => {
  io.close();
  setTimeout(() => process.exit(0), 100);
});
process.stdin.resume();
