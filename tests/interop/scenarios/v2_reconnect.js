"use strict";
// socket.io-client 2.5.0 reconnects after the server restarts (the test closes the server
// once the client says it is connected, and starts a new one on the same port); the client then
// joins a namespace with a query again and gets its acks.
const { connectV2, ask, once, out, run } = require("./v2_common");

run(async () => {
  const fast = {
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
  };
  const socket = connectV2("/", fast);
  const chat = connectV2("/chat?token=t", fast);
  // listening from the start: the test may close the server before both are connected
  const disconnected = once(socket, "disconnect", 15000);
  const reconnected = once(socket, "reconnect", 15000);
  await Promise.all([once(socket, "connect"), once(chat, "connect")]);
  const first = socket.id;
  out({ ev: "connected", id: first, transport: socket.io.engine.transport.name });
  socket.emit("ready"); // the test restarts the server once the client is connected
  const [reason] = await disconnected;
  out({ ev: "disconnect", reason });
  const [attempts] = await reconnected;
  if (!chat.connected) await once(chat, "connect", 8000);
  out({ ev: "reconnected", attempts, newId: socket.id !== first });
  out({ ev: "acks", main: await ask(socket, "echo", 1), chat: await ask(chat, "echo", "c") });
  socket.close();
  chat.close();
}, 20000);
