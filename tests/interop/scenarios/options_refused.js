"use strict";
// allow_request: a refused handshake is a connect_error on the client; an allowed one
// connects. argv: <port> <websocket|polling> <token>
const { connect, extra, out, once, run, disconnectAll } = require("./common");

function describe(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "number" || typeof value === "string") return value;
  return String(value.message || (value.error && value.error.message) || value);
}

run(async () => {
  const socket = connect("/", { query: { token: extra[0] } });
  const result = await Promise.race([
    once(socket, "connect").then(() => ({ ev: "connect" })),
    once(socket, "connect_error").then(([err]) => ({
      ev: "connect_error",
      message: err.message,
      type: err.type || null,
      description: describe(err.description),
    })),
  ]);
  out(result);
  if (result.ev === "connect") await disconnectAll([socket]);
  else socket.close();
}, 10000);
