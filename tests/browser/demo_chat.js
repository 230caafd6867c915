// Drives the demo chat (examples/demo) in headless Chromium with playwright-core, for
// tests/browser/test_demo_chat.py.
//
//   node demo_chat.js BASE_URL PNG_PATH USER_DATA_DIR
//
// Prints one JSON object per line on stdout: {"step": ...} as it goes, {"need": "stop"} and
// {"need": "start"} when the test should stop / start the server again (it answers with one
// line on stdin once done), and finally {"done": true, ...measurements} or {"error": ...}.
"use strict";

const path = require("node:path");
const readline = require("node:readline");

const { launch, runMain, say } = require("./chromium");
const TIMEOUT = 10000;

const [baseUrl, pngPath, userDataDir] = process.argv.slice(2);

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Ask the test to do something with the server; resolves when it answers. */
async function need(what) {
  say({ need: what });
  const { value, done } = await lines.next();
  if (done || value.trim() !== `${what === "stop" ? "stopped" : "started"}`) {
    throw new Error(`the test answered ${JSON.stringify(value)} to ${what}`);
  }
}

async function join(page, nick) {
  await page.fill("#nick", nick);
  await page.fill("#room", "lobby");
  await page.click("#join-form button[type=submit]");
  await page.waitForSelector("#chat:not([hidden])");
  await page.waitForFunction(() => document.querySelector("#room-name").textContent === "#lobby");
}

/** Wait until a page shows a message with that text; returns its sender's nickname. */
async function messageFrom(page, text) {
  const item = page.locator("#messages li.message", { hasText: text });
  await item.waitFor();
  return item.locator(".nick").textContent();
}

const hasNotice = (page, text) =>
  page.waitForFunction(
    (wanted) => [...document.querySelectorAll("#messages .notice")].some((n) => n.textContent === wanted),
    text,
  );

const statusIs = (page, state) =>
  page.waitForSelector(`#status[data-state="${state}"]`, { state: "attached" });

async function main() {
  const context = await launch(userDataDir);
  const errors = [];
  try {
    context.setDefaultTimeout(TIMEOUT);
    const alice = context.pages()[0] || (await context.newPage());
    const bob = await context.newPage();
    for (const page of [alice, bob]) {
      page.on("pageerror", (error) => errors.push(String(error)));
    }
    await alice.goto(baseUrl);
    await bob.goto(baseUrl);
    await statusIs(alice, "connected");
    await statusIs(bob, "connected");
    say({ step: "pages loaded and connected" });

    await join(alice, "alice");
    await join(bob, "bob");
    await hasNotice(alice, "bob joined");
    await alice.waitForFunction(
      () => [...document.querySelectorAll("#users li")].map((li) => li.textContent).join() === "alice,bob",
    );
    say({ step: "both joined lobby" });

    // typing indicator, then the message itself, with its delivery acknowledgement
    await alice.fill("#text", "hello from alice");
    await bob.waitForFunction(() => document.querySelector("#typing").textContent === "alice is typing…");
    await alice.press("#text", "Enter");
    const sender = await messageFrom(bob, "hello from alice");
    await alice.locator("#messages li.own .delivery.delivered").first().waitFor();
    await bob.waitForFunction(() => document.querySelector("#typing").textContent === "");
    say({ step: "message delivered" });

    // a PNG shared as binary, shown as an image on the other page
    await alice.setInputFiles("#file", pngPath);
    const image = bob.locator("#messages li.file img.shared-image");
    await image.waitFor();
    await bob.waitForFunction(() => {
      const img = document.querySelector("#messages li.file img.shared-image");
      return img.complete && img.naturalWidth > 0;
    });
    const size = await image.evaluate((img) => [img.naturalWidth, img.naturalHeight]);
    const fileSender = await bob.locator("#messages li.file .nick").textContent();
    await alice.locator("#messages li.file.own .delivery.delivered").waitFor();
    say({ step: "image shared" });

    // the server goes away and comes back: both pages reconnect and join lobby again
    await need("stop");
    await statusIs(bob, "reconnecting");
    const reconnecting = await bob.locator("#status").textContent();
    say({ step: "reconnecting", status: reconnecting });
    await need("start");
    await statusIs(bob, "connected");
    await statusIs(alice, "connected");
    await hasNotice(bob, "Back in #lobby");
    await hasNotice(alice, "Back in #lobby");
    say({ step: "reconnected" });

    await bob.fill("#text", "hello again from bob");
    await bob.press("#text", "Enter");
    const senderAfter = await messageFrom(alice, "hello again from bob");
    await bob.locator("#messages li.own .delivery.delivered").last().waitFor();

    say({
      done: true,
      sender,
      fileSender,
      image: size,
      reconnecting,
      senderAfter,
      status: await bob.locator("#status").textContent(),
      errors,
    });
  } catch (error) {
    const shot = path.join(path.dirname(userDataDir), "failure.png");
    try {
      const page = context.pages().at(-1);
      if (page) await page.screenshot({ path: shot });
    } catch {
      // no screenshot then
    }
    say({ error: String(error && error.stack ? error.stack : error), screenshot: shot, errors });
    process.exitCode = 1;
  } finally {
    await context.close();
  }
}

runMain(main);
