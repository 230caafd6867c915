// Runs the checks of v2_page.html (socket.io-client 2.5.0's browser bundle) in headless
// Chromium with playwright-core, for tests/browser/test_v2_browser.py.
//
//   node v2_client.js BASE_URL USER_DATA_DIR
//
// Prints one JSON object per line on stdout: {"step": ..., "result": ...} per check,
// {"need": "restart"} when the test should restart the server (it answers "restarted" on
// stdin), and finally {"done": true, "errors": [...]} or {"error": ...}.
"use strict";

const readline = require("node:readline");

const { launch, runMain, say } = require("./chromium");
const MODES = ["polling", "websocket", "upgrade"];

const [baseUrl, userDataDir] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function main() {
  const context = await launch(userDataDir);
  const errors = [];
  try {
    context.setDefaultTimeout(10000);
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(baseUrl);
    const run = async (step, expression, ...args) => {
      const result = await page.evaluate(
        ([name, values]) => window[name](...values),
        [expression, args],
      );
      say({ step, result });
    };
    for (const mode of MODES) {
      await run(`events ${mode}`, "events", mode);
      await run(`rooms ${mode}`, "rooms", mode);
      for (const who of ["server", "client"]) {
        await run(`ping timeout ${who} ${mode}`, "pingTimeout", mode, who);
      }
      await run(`lasting ${mode}`, "connectLasting", mode);
      say({ need: "restart" });
      const { value, done } = await lines.next();
      if (done || value.trim() !== "restarted") throw new Error(`the test answered ${value}`);
      await run(`reconnected ${mode}`, "reconnected");
    }
    say({ done: true, errors });
  } catch (error) {
    say({ error: String(error && error.stack ? error.stack : error), errors });
    process.exitCode = 1;
  } finally {
    await context.close();
  }
}

runMain(main);
