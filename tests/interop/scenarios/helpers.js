"use strict";
// Helpers shared by the Node scenarios (require("./helpers")) and the browser page of
// tests/browser/v2_page.html (a <script>: window.helpers).
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.helpers = factory();
})(typeof self !== "undefined" ? self : this, () => {
  // Resolve with the listener's arguments the next time `event` is emitted.
  function once(emitter, event, ms = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
      emitter.once(event, (...args) => {
        clearTimeout(timer);
        resolve(args);
      });
    });
  }

  // Resolve with the first of several events: [name, ...args].
  function first(emitter, events, ms = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`none of ${events} within ${ms} ms`)), ms);
      for (const event of events) {
        emitter.once(event, (...args) => {
          clearTimeout(timer);
          resolve([event, ...args]);
        });
      }
    });
  }

  // emit with an acknowledgement, as a promise of the ack's arguments
  function ask(socket, ...args) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${args[0]}`)), 5000);
      socket.emit(...args, (...answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
    });
  }

  // socket.io-client 2.x (Engine.IO v3, the client pings): break the heartbeat on purpose.
  // "server": the client stops pinging and stops watching the server (the server must time
  // out); "client": the client drops the server's pongs (its own timer must fire).
  function breakHeartbeat(engine, who) {
    if (who === "server") {
      clearTimeout(engine.pingIntervalTimer);
      clearTimeout(engine.pingTimeoutTimer);
      engine.removeListener("heartbeat", engine.onHeartbeat);
      engine.setPing = () => {};
    } else {
      const onPacket = engine.onPacket.bind(engine);
      engine.onPacket = (packet) => {
        if (packet.type !== "pong") onPacket(packet);
      };
    }
  }

  return { once, first, ask, breakHeartbeat };
});
