// One client of the scale test (tests/workers/test_scale.py), the same in Node (scale.js)
// and in Chromium (scale.html): it counts every broadcast it receives by id, answers the
// server's acks with its number, and reports what it saw.
(function (root) {
  "use strict";

  const TRANSPORTS = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] };

  /** A client numbered ``i`` of ``io`` (socket.io-client's ``io``) in transport ``mode``. */
  function makeClient(io, url, i, mode, kind, options) {
    const socket = io(url, {
      forceNew: true,
      reconnection: false, // a lost session shows as an error, not as a silent new one
      transports: TRANSPORTS[mode],
      timeout: 45000,
      auth: { i },
      ...options,
    });
    const c = { i, mode, kind, socket, pid: null, errors: [], disconnects: [], received: {}, direct: 0, directAcks: 0, closing: false };
    socket.on("connect_error", (err) => c.errors.push(`connect_error: ${err.message}`));
    socket.on("disconnect", (reason) => {
      if (!c.closing) c.disconnects.push(reason);
    });
    socket.io.on("open", () => {
      socket.io.engine.on("upgradeError", (err) => c.errors.push(`upgradeError: ${err.message}`));
    });
    socket.on("bc", (id) => {
      c.received[id] = (c.received[id] || 0) + 1;
    });
    socket.on("bc-ack", (id, ack) => ack(i));
    socket.on("direct", () => (c.direct += 1));
    socket.on("direct-ack", (n, ack) => {
      c.directAcks += 1;
      ack(n + i);
    });
    return c;
  }

  /** An echo with an ack; it tells which worker holds the session. */
  async function whoami(c) {
    try {
      const answer = await c.socket.timeout(30000).emitWithAck("echo", { i: c.i, text: "é✓" });
      if (answer.payload.i !== c.i || answer.payload.text !== "é✓") throw new Error("wrong echo");
      c.pid = answer.pid;
    } catch (err) {
      c.errors.push(`echo: ${err.message}`);
    }
  }

  function ready(c) {
    return c.pid !== null && (c.mode !== "upgrade" || transport(c) === "websocket");
  }

  /** Whether ``c`` has every id of ``ids`` (at least once). */
  function hasAll(c, ids) {
    return ids.every((id) => c.received[id] >= 1);
  }

  function transport(c) {
    return c.socket.connected ? c.socket.io.engine.transport.name : null;
  }

  function report(c) {
    return {
      i: c.i, mode: c.mode, kind: c.kind, pid: c.pid, errors: c.errors, disconnects: c.disconnects,
      received: c.received, direct: c.direct, directAcks: c.directAcks,
      connected: c.socket.connected, transport: transport(c),
    };
  }

  function close(c) {
    c.closing = true;
    c.socket.disconnect();
  }

  const api = { makeClient, whoami, ready, hasAll, report, close };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.ScaleClient = api;
})(this);
