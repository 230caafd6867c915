"use strict";
// Scenario 3: namespaces multiplexed on one connection: auth, unknown namespace, middleware
// refusal with data, dynamic namespaces.
const { ioc, url, transportOptions, out, once, run, disconnectAll } = require("./common");

// connect_error or connect, whichever comes first
function outcome(socket) {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve({ connected: true, id: socket.id }));
    socket.once("connect_error", (err) =>
      resolve({ connected: false, message: err.message, data: err.data === undefined ? "undefined" : err.data })
    );
  });
}

run(async () => {
  const manager = new ioc.Manager(url, {
    autoConnect: false,
    reconnection: false,
    ...transportOptions(),
  });
  const main = manager.socket("/");
  const custom = manager.socket("/custom", { auth: { token: "t", n: [1, 2] } });
  const authEvent = once(custom, "auth", 5000);
  const unknown = manager.socket("/unknown");
  const privateNsp = manager.socket("/private");
  const dyn = manager.socket("/dyn-1");
  const dynHello = once(dyn, "hello", 5000);
  const notDyn = manager.socket("/dyn-x");
  const sockets = { main, custom, unknown, private: privateNsp, dyn, notDyn };
  const outcomes = Object.entries(sockets).map(([name, s]) => [name, outcome(s)]);
  for (const s of Object.values(sockets)) s.connect();
  for (const [name, result] of outcomes) out({ ev: "outcome", name, ...(await result) });
  const [auth] = await authEvent;
  out({ ev: "auth", auth });
  const [nsp] = await dynHello;
  out({ ev: "dyn-hello", nsp });

  // the refused namespaces did not break the shared connection
  out({ ev: "custom-ping", value: await custom.timeout(2000).emitWithAck("ping") });
  out({ ev: "dyn-ping", value: await dyn.timeout(2000).emitWithAck("ping") });
  out({ ev: "engines", shared: custom.io.engine === dyn.io.engine && main.io === custom.io });

  await disconnectAll(Object.values(sockets));
}, 10000);
