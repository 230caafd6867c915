"use strict";
// http_compression: the fetch() long-polling transport of the official client (Node's fetch
// asks for gzip/deflate and inflates); a 100 KiB event from the server arrives intact.
// argv: <port> <fetch|polling>
const path = require("path");
const { connect, mode, out, once, run, disconnectAll } = require("./common");

const { Fetch } = require(path.join(__dirname, "..", "node_modules", "engine.io-client"));

function bigText(seed) {
  const lines = [];
  for (let i = 0; i < 2000; i++) {
    lines.push(`line ${i} seed ${seed}: the quick brown fox jumps over the lazy dog`);
  }
  return lines.join("\n").slice(0, 100 * 1024);
}

run(async () => {
  const options = mode === "fetch" ? { mode: "polling", transports: [Fetch] } : {};
  const socket = connect("/", options);
  await once(socket, "connect");
  const pushed = once(socket, "pushed");
  socket.emit("push-me", 3);
  const [text] = await pushed;
  out({ ev: "pushed", same: text === bigText(3), length: text.length });
  const echoed = await socket.emitWithAck("big", bigText(4));
  out({ ev: "big-ack", same: echoed === bigText(4) });
  await disconnectAll([socket]);
}, 10000);
