"use strict";
// A socket.io 4.8 server for the tests of `aiosocketio bench` (the load-testing command).
// argv: node bench_server.js <port> [options JSON]  (options: none yet)
// Prints {"port": N} once listening; exits when stdin closes (the test ended).
//   "echo"   acknowledges with its arguments
//   "silent" asks for an acknowledgement it never sends
//   "go"     (count, plain) broadcasts "tick" count times to the namespace:
//            {seq: i, ts: Date.now()} (the bench's sequence convention), or "plain" strings

const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "..", "node_modules", "socket.io"));

const port = Number(process.argv[2] || 0);
const httpServer = http.createServer();
const io = new Server(httpServer);

function attach(socket) {
  const nsp = socket.nsp;
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("silent", () => {});
  socket.on("go", (count, plain) => {
    for (let i = 0; i < count; i++) nsp.emit("tick", plain ? "plain" : { seq: i, ts: Date.now() });
  });
}

io.on("connection", attach);
io.of("/bench").on("connection", attach);

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

process.stdin.on("end", () => {
  io.close();
  setTimeout(() => process.exit(0), 100);
});
process.stdin.resume();
