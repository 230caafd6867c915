"use strict";
// Socket.IO mounted inside another ASGI application: the application's own HTTP route
// answers, and the official client connects over each transport mode given.
// argv: <port> <modes, comma-separated: websocket,polling,upgrade> [login]
// With "login": POST /login gives a token that the Socket.IO middleware checks; a forged
// token is refused.
const { url, mode, extra, connect, out, once, run, waitUpgraded, disconnectAll } = require(
  "./common"
);

async function session(m, auth) {
  const socket = connect("/", { mode: m, auth });
  const result = await Promise.race([
    once(socket, "connect").then(() => null),
    once(socket, "connect_error").then(([err]) => err),
  ]);
  if (result !== null) {
    socket.close();
    return { ev: "refused", mode: m, message: result.message, data: result.data || null };
  }
  if (m === "upgrade") await waitUpgraded(socket);
  const whoami = await socket.emitWithAck("whoami");
  const transport = socket.io.engine.transport.name;
  await disconnectAll([socket]);
  return { ev: "session", mode: m, whoami, transport };
}

run(async () => {
  const hello = await fetch(`${url}/hello`);
  out({ ev: "http", status: hello.status, body: await hello.text() });
  let auth = {};
  if (extra[0] === "login") {
    const res = await fetch(`${url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "ada" }),
    });
    const body = await res.json();
    out({ ev: "login", status: res.status });
    auth = { token: body.token };
  }
  for (const m of mode.split(",")) out(await session(m, auth));
  if (extra[0] === "login") out(await session("websocket", { token: "forged" }));
}, 10000);
