"use strict";
// The official client with socket.io-msgpack-parser against aiosocketio's MsgpackParser:
// events and acks both ways, binary, dates, undefined, broadcast, namespaces, connect_error,
// server- and client-side disconnects.
const { ioc, url, mode, transportOptions, out, once, run, waitUpgraded, pattern, disconnectAll } =
  require("./common");
const { parser, describe } = require("./msgpack_common");

// connect_error or connect, whichever comes first
function outcome(socket) {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve({ connected: true }));
    socket.once("connect_error", (err) =>
      resolve({ connected: false, message: err.message, data: describe(err.data) })
    );
  });
}

// emit with an acknowledgement; resolves with every argument of the ack
function call(socket, ...args) {
  return new Promise((resolve, reject) =>
    socket.timeout(3000).emit(...args, (err, ...reply) => (err ? reject(err) : resolve(reply)))
  );
}

run(async () => {
  const manager = new ioc.Manager(url, {
    autoConnect: false,
    reconnection: false,
    parser,
    ...transportOptions(),
  });
  const main = manager.socket("/", { auth: { token: "t", n: [1, 2.5] } });
  const welcome = once(main, "welcome");
  const broadcast = once(main, "broadcast");
  const asked = once(main, "server-ask");
  main.connect();
  await once(main, "connect");
  if (mode === "upgrade") await waitUpgraded(main);
  out({ ev: "transport", name: manager.engine.transport.name });
  out({ ev: "welcome", args: describe(await welcome) });
  out({ ev: "broadcast", args: describe(await broadcast) });

  // Node -> Python: each kind of value; the server acknowledges with what it received
  const reply = await call(
    main,
    "types",
    1,
    -1,
    2 ** 40,
    1.5,
    -0.25,
    "é€😀",
    true,
    false,
    null,
    undefined,
    Buffer.from([0, 1, 255]),
    new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer,
    new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 123)),
    { a: undefined, b: [Buffer.alloc(0)], c: { d: 1 } },
    pattern(100 * 1024, 3)
  );
  out({ ev: "types-ack", args: describe(reply) });

  // Python -> Node with an ack, answered with binary and a date
  const [n, blob, ack] = await asked;
  out({ ev: "server-ask", n, blob: describe(blob), ackIsFunction: typeof ack === "function" });
  ack(n * 2, Buffer.from("ok"), new Date(0));

  // namespaces on the same connection
  const admin = manager.socket("/admin");
  const refused = manager.socket("/private");
  const unknown = manager.socket("/nope");
  const outcomes = { admin: outcome(admin), private: outcome(refused), nope: outcome(unknown) };
  for (const s of [admin, refused, unknown]) s.connect();
  for (const [name, result] of Object.entries(outcomes)) out({ ev: "outcome", name, ...(await result) });
  out({ ev: "admin-ping", value: describe(await call(admin, "ping", pattern(300, 1))) });

  // the server disconnects /admin (a DISCONNECT packet from Python)
  const kicked = once(admin, "disconnect");
  admin.emit("kick-me");
  out({ ev: "kicked", reason: (await kicked)[0] });

  // a client-side disconnect of "/" (a DISCONNECT packet from Node)
  await disconnectAll([main]);
}, 10000);
