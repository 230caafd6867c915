"use strict";
// A socket.io 4.8 server with socket.io-msgpack-parser, for raw checks of its bytes and for
// aiosocketio's client. argv: node msgpack_server.js
// Prints {"port": N} once listening; exits when stdin closes (the test ended).
const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "..", "node_modules", "socket.io"));
const { parser, describe } = require("./msgpack_common");

const httpServer = http.createServer();
const io = new Server(httpServer, { parser });

io.on("connection", (socket) => {
  socket.emit(
    "welcome",
    1,
    "two",
    Buffer.from([3]),
    { four: 4.5, five: [null, true] },
    new Date(Date.UTC(2020, 0, 1))
  );
  // acknowledges with the arguments it got
  socket.on("echo", (...args) => args.pop()(...args));
  // acknowledges with a description of the JavaScript values it got
  socket.on("describe", (...args) => args.pop()(describe(args)));
  // asks the client, then reports every argument of its answer
  socket.on("ask-me", (question, ack) => {
    socket
      .timeout(2000)
      .emit("question", question, (err, ...answer) =>
        ack(err ? { error: err.message } : describe(answer))
      );
  });
});
io.of("/private").use((socket, next) => {
  const err = new Error("not authorized");
  err.data = { code: 42 };
  next(err);
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});
process.stdin.on("end", () => {
  io.close();
  process.exit(0);
});
process.stdin.resume();
