"use strict";
// A socket.io 4.8 server for the Python client's interop tests.
// argv: node server.js <port> [options JSON]
//   options: { recovery: bool, pingInterval: ms, pingTimeout: ms, transports: [...],
//              keepAliveTimeout: ms (idle HTTP connections are closed after it) }
// Prints {"port": N} once listening; exits when stdin closes (the test ended).

const path = require("path");
const http = require("http");
const { Server } = require(path.join(__dirname, "..", "node_modules", "socket.io"));

const port = Number(process.argv[2] || 0);
const options = JSON.parse(process.argv[3] || "{}");

const httpServer = http.createServer();
if (options.keepAliveTimeout) httpServer.keepAliveTimeout = options.keepAliveTimeout;
const io = new Server(httpServer, {
  pingInterval: options.pingInterval || 25000,
  pingTimeout: options.pingTimeout || 20000,
  transports: options.transports || ["polling", "websocket"],
  connectionStateRecovery: options.recovery
    ? { maxDisconnectionDuration: 60000, skipMiddlewares: true }
    : undefined,
});

// what every namespace's sockets understand
function attach(socket) {
  const seen = [];
  // echo: acknowledges with the arguments, or emits them back as "echo"
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("add", (a, b, ack) => ack(a + b));
  // what the official client reads from a handshake and a date (scenarios/handshake.js)
  socket.on("handshake", (ack) => ack(socket.handshake));
  socket.on("date", (ack) => ack(new Date(Date.UTC(2026, 11, 6, 9, 42, 33, 740))));
  if (socket.handshake.query.push === "handshake") socket.emit("handshake", socket.handshake);
  socket.on("info", (ack) =>
    ack({
      id: socket.id,
      nsp: socket.nsp.name,
      auth: socket.handshake.auth,
      query: socket.handshake.query,
      header: socket.handshake.headers["x-test"] || null,
      transport: socket.conn.transport.name,
      recovered: socket.recovered,
    })
  );
  // the server asks the client, then reports the answer (or the error)
  socket.on("ask-me", async (question, ack) => {
    try {
      ack({ answer: await socket.timeout(1000).emitWithAck("question", question) });
    } catch (err) {
      ack({ error: err.message });
    }
  });
  // binary: answers with the bytes reversed, and a nested structure
  socket.on("bin", (data, ack) =>
    ack(Buffer.from(data).reverse(), { nested: [Buffer.from([1, 2, 3])] })
  );
  // order checks: every "seq" event is recorded; "seen" returns them
  socket.on("seq", (n, ack) => {
    seen.push(n);
    if (typeof ack === "function") ack(n);
  });
  socket.on("seen", (ack) => ack(seen));
  // retries: the first try of every "flaky" event is left unanswered
  const tries = {};
  socket.on("flaky", (n, ack) => {
    tries[n] = (tries[n] || 0) + 1;
    seen.push(n);
    if (tries[n] > 1) ack(n, tries[n]);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack(room);
  });
  socket.on("broadcast", (room, ...args) => io.of(socket.nsp.name).to(room).emit(...args));
  socket.on("server-disconnect", () => socket.disconnect());
  socket.on("close-transport", () => socket.conn.close());
  socket.on("emit-later", (ms, ...args) => setTimeout(() => socket.emit(...args), ms));
}

io.on("connection", (socket) => {
  attach(socket);
  // while the client is away, the room gets broadcasts it must recover
  socket.on("disconnect", (reason) => {
    if (socket.data.missed) {
      for (const n of socket.data.missed) io.to("r").emit("missed", n);
    }
  });
  socket.on("plan-missed", (values, ack) => {
    socket.data.missed = values;
    ack();
  });
});

const admin = io.of("/admin");
admin.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  if (token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { code: 401, token: token || null };
  next(err);
});
admin.on("connection", attach);

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

// the test closes stdin to stop the server; a kill works too
process.stdin.on("end", () => {
  // a long-polling client gets its close packet on its pending GET: wait (at most 5 s, the
  // machine may be loaded) until each has one, else a GET after the close gets HTTP 400
  const deadline = Date.now() + 5000;
  const waiting = () =>
    Object.values(io.engine.clients).some(
      (c) => c.transport.name === "polling" && !c.transport.writable && !c.upgrading,
    );
  const close = () => {
    if (waiting() && Date.now() < deadline) return setTimeout(close, 10);
    io.close(); // the clients get their close packets, then the process ends
    setTimeout(() => process.exit(0), 100);
  };
  close();
});
process.stdin.resume();
