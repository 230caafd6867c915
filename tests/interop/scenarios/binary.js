"use strict";
// Scenario 2: binary payloads (nested Buffers, 100 KiB) in events and acks, both directions.
const crypto = require("crypto");
const { connect, out, once, run, pattern, disconnectAll } = require("./common");

const sha256 = (buf) => crypto.createHash("sha256").update(buf).digest("hex");

// Describe every Buffer of a value: where it is, whether it is a Buffer, its length and hash.
function buffers(value, where = "$", found = []) {
  if (Buffer.isBuffer(value)) {
    found.push({ where, len: value.length, sha256: sha256(value) });
  } else if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    found.push({ where, notBuffer: Object.prototype.toString.call(value) });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => buffers(v, `${where}[${i}]`, found));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) buffers(v, `${where}.${k}`, found);
  }
  return found;
}

run(async () => {
  const socket = connect("/");
  const fromServer = once(socket, "from-server", 5000);
  await once(socket, "connect");

  // Node -> Python: a dict holding bytes inside a list, plus a 100 KiB Buffer
  const big = pattern(100 * 1024, 3);
  const nested = [{ blob: pattern(16, 1), inner: { deep: [pattern(3, 2), "text"] } }, 7];
  const ack = await socket.emitWithAck("upload", nested, big, "tail");
  out({ ev: "upload-ack", buffers: buffers(ack), plain: ack.meta });

  // echo: the server sends our Buffers back in its ack
  const echo = await new Promise((resolve) =>
    socket.emit("echo", { a: [pattern(1000, 9)] }, Buffer.alloc(0), (...args) => resolve(args))
  );
  out({
    ev: "echo-ack",
    same: Buffer.isBuffer(echo[0].a[0]) && echo[0].a[0].equals(pattern(1000, 9)),
    emptyIsBuffer: Buffer.isBuffer(echo[1]) && echo[1].length === 0,
  });

  // Python -> Node: an event with nested bytes, acknowledged with binary
  const [payload, blob, cb] = await fromServer;
  out({ ev: "from-server", buffers: buffers([payload, blob]), text: payload[0].name });
  cb({ reply: pattern(64, 5) }, pattern(100 * 1024, 6));

  await once(socket, "done", 5000);
  await disconnectAll([socket]);
}, 10000);
