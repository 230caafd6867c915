"use strict";
// per_message_deflate: the ws transport of the official client offers permessage-deflate
// (engine.io-client's perMessageDeflate option, threshold 1024). A 100 KiB text event and a
// small one go both ways; the script reports the negotiated extension and the bytes that
// crossed the TCP connection meanwhile.
// argv: <port> <websocket|upgrade>
const { connect, mode, out, once, run, waitUpgraded, disconnectAll } = require("./common");

// the same text as big_text(seed) on the Python side: 100 KiB, compressible, not uniform
function bigText(seed) {
  const lines = [];
  for (let i = 0; i < 2000; i++) {
    lines.push(`line ${i} seed ${seed}: the quick brown fox jumps over the lazy dog`);
  }
  return lines.join("\n").slice(0, 100 * 1024);
}

run(async () => {
  const socket = connect("/");
  await once(socket, "connect");
  if (mode === "upgrade") await waitUpgraded(socket);
  const engine = socket.io.engine;
  const ws = engine.transport.ws;
  const tcp = ws._socket;
  const read = tcp.bytesRead;
  const written = tcp.bytesWritten;
  out({
    ev: "ws",
    transport: engine.transport.name,
    extensions: ws.extensions,
    offered: engine.transport.opts.perMessageDeflate,
  });

  const big = bigText(1);
  const echoed = await socket.emitWithAck("big", big);
  out({ ev: "big-ack", same: echoed === big, length: echoed.length });

  const small = await socket.emitWithAck("small", "hi");
  out({ ev: "small-ack", value: small });

  const pushed = once(socket, "pushed");
  socket.emit("push-me", 2);
  const [text, tiny] = await pushed;
  out({ ev: "pushed", same: text === bigText(2), tiny });

  out({ ev: "bytes", read: tcp.bytesRead - read, written: tcp.bytesWritten - written });
  await disconnectAll([socket]);
}, 10000);
