// What the browser-driving scripts of tests/browser share: playwright-core (from the npm
// packages of examples/demo), Debian's Chromium and its headless flags, and JSON lines out.
"use strict";

const path = require("node:path");

const DEMO_MODULES = path.resolve(__dirname, "..", "..", "examples", "demo", "node_modules");
const { chromium } = require(path.join(DEMO_MODULES, "playwright-core"));

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** One JSON object per line on stdout: what the Python test reads. */
const say = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

/** Headless Chromium, with a profile of its own (a persistent context). */
function launch(userDataDir) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** Run the script's async main, then exit (status 1 with an {"error"} line if it throws). */
function runMain(main) {
  main().then(
    () => process.exit(),
    (error) => {
      say({ error: String(error) });
      process.exit(1);
    },
  );
}

module.exports = { chromium, CHROMIUM, CHROMIUM_ARGS, launch, runMain, say };
