"use strict";
// What the official client reads from socket.handshake and from a date, sent by the server.
// argv: node handshake.js <port> <transport mode> [json|msgpack]
// The server answers "handshake" with socket.handshake and "date" with
// 2026-12-06T09:42:33.740Z, both as acknowledgements; it also emits "handshake" on connect
// when the query has push=handshake.
const { ioc, url, transportOptions, out, once, run } = require("./common");

// each key of the object with the JavaScript type of its value, in the order received
function shape(h) {
  return Object.keys(h).map((k) => [k, Array.isArray(h[k]) ? "array" : typeof h[k]]);
}

function report(ev, h) {
  out({
    ev,
    shape: shape(h),
    timeParses: !Number.isNaN(new Date(h.time).getTime()),
    timeIsIssued: Math.abs(new Date(h.time).getTime() - h.issued) < 1000,
    issuedIsNow: Math.abs(Date.now() - h.issued) < 60000,
    auth: h.auth,
    q: h.query.q,
    transport: h.query.transport,
    hasHostHeader: typeof h.headers.host === "string",
  });
}

run(async () => {
  const options = { forceNew: true, reconnection: false, ...transportOptions() };
  if (process.argv[4] === "msgpack") {
    options.parser = require("../node_modules/socket.io-msgpack-parser");
  }
  const socket = ioc(url, { ...options, auth: { token: "t" }, query: { q: "1", push: "handshake" } });
  const pushed = once(socket, "handshake");
  await once(socket, "connect");
  report("emitted", (await pushed)[0]);
  report("ack", await socket.timeout(3000).emitWithAck("handshake"));
  const date = await socket.timeout(3000).emitWithAck("date");
  out({ ev: "date", value: date instanceof Date ? { $date: date.toISOString() } : date });
  socket.disconnect();
});
