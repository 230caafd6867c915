"use strict";
// socket.io-client 2.5.0: events and acks both ways (binary included), a namespace with a
// query, middleware refusals, and the transport in use at the end.
const { connectV2, ask, first, hex, once, out, run, mode, waitUpgraded } = require("./v2_common");

run(async () => {
  const socket = connectV2("/", { query: { q: "main" } });
  // the server greets on connection with text and binary
  const hello = once(socket, "hello");
  await once(socket, "connect");
  out({ ev: "connect", id: socket.id, engineId: socket.io.engine.id });
  const [text, bytes] = await hello;
  out({ ev: "hello", text, bytes: hex(bytes) });
  if (mode === "upgrade") await waitUpgraded(socket);

  // client -> server, acknowledged; binary both ways
  out({ ev: "echo", answer: (await ask(socket, "echo", "é😀", 2, { a: [null] })).map(hex) });
  const [reversed, nested] = await ask(socket, "bin", Buffer.from([1, 2, 3, 250]));
  out({ ev: "bin", reversed: hex(reversed), nested: hex(nested.nested[0]) });

  // server -> client with an ack; the server reports the client's answer
  socket.on("question", (value, ack) => ack(`answer to ${value}`, Buffer.from([7])));
  out({ ev: "asked", result: await ask(socket, "ask-me", "why") });

  // a namespace with a query (its handshake's auth), then refusals by middleware
  const chat = connectV2("/chat?token=abc&n=1", { mode });
  await once(chat, "connect");
  out({ ev: "chat", id: chat.id, info: (await ask(chat, "info"))[0] });
  const refused = connectV2("/admin?token=bad", { mode });
  const [event, data] = await first(refused, ["error", "connect"]);
  out({ ev: "admin-refused", event, data });
  const plain = connectV2("/plain", { mode });
  const [plainEvent, plainData] = await first(plain, ["error", "connect"]);
  out({ ev: "plain-refused", event: plainEvent, data: plainData });
  const admin = connectV2("/admin?token=secret", { mode });
  await once(admin, "connect");
  out({ ev: "admin", info: (await ask(admin, "info"))[0] });

  out({ ev: "transport", name: socket.io.engine.transport.name });
  const closed = once(socket, "disconnect");
  socket.emit("bye");
  const [reason] = await closed;
  out({ ev: "disconnect", reason });
  for (const s of [chat, refused, plain, admin]) s.close();
}, 15000);
