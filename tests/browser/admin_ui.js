// Drives the official Socket.IO Admin UI (the ui/dist of the npm package @socket.io/admin-ui,
// served by the test's aiosocketio server) in headless Chromium with playwright-core, for
// tests/browser/test_admin_ui.py.
//
//   node admin_ui.js BASE_URL USERNAME PASSWORD EXPECTED_JSON
//
// EXPECTED_JSON: {"sockets": [ids in namespace /], "room": name, "serverId": id,
// "disconnect": id}. The script logs in through the connection dialog, waits until the
// Sockets page lists every expected socket, the Rooms page lists the room and the Servers
// page lists the server, then clicks the "disconnect" button of one socket and waits until
// its row goes away. Prints one JSON object per line on stdout: {"step": ...} as it goes,
// then {"done": true, ...what the pages showed} or {"error": ...}.
"use strict";


const { chromium, CHROMIUM, CHROMIUM_ARGS, runMain, say } = require("./chromium");
const TIMEOUT = 10000;

const [baseUrl, username, password, expectedJson] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);


/** In the page: the rows of the data tables on view (the page that is leaving stays in the
 * DOM, hidden, for a while). */
function defineVisibleRows() {
  window.visibleRows = () =>
    [...document.querySelectorAll(".v-data-table tbody tr")].filter((tr) => tr.offsetParent !== null);
}

/** The cells' text of each visible row, once the rows show every wanted string. */
async function tableRows(page, wanted) {
  await page.waitForFunction(
    (strings) => {
      const text = window.visibleRows().map((tr) => tr.innerText).join("\n");
      return strings.every((s) => text.includes(s));
    },
    wanted,
  );
  return page.evaluate(() =>
    window.visibleRows().map((tr) => [...tr.querySelectorAll("td")].map((td) => td.innerText.trim())),
  );
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const errors = [];
  let page;
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(TIMEOUT);
    // the UI asks Google Fonts and a CDN for its fonts and icons: not in a test
    await context.route(
      (url) => !url.href.startsWith(baseUrl),
      (route) => route.abort(),
    );
    await context.addInitScript(defineVisibleRows);
    page = await context.newPage();
    page.on("pageerror", (error) => errors.push(String(error)));

    await page.goto(baseUrl);
    const dialog = page.locator(".v-dialog--active");
    await dialog.waitFor();
    await dialog.getByLabel("Server URL").fill(baseUrl);
    await dialog.getByLabel("Username").fill(username);
    await dialog.getByLabel("Password").fill(password);
    await dialog.locator("button[type=submit]").click();
    await dialog.waitFor({ state: "detached" });
    const sessionId = await page.waitForFunction(() => localStorage.getItem("session_id"));
    say({ step: "logged in" });

    await page.goto(`${baseUrl}#/sockets/`);
    const sockets = await tableRows(page, expected.sockets);
    say({ step: "sockets listed" });

    await page.goto(`${baseUrl}#/rooms/`);
    const rooms = await tableRows(page, [expected.room]);
    say({ step: "room listed" });

    await page.goto(`${baseUrl}#/servers/`);
    const servers = await tableRows(page, [expected.serverId]);
    say({ step: "server listed" });

    // a command from the UI: the disconnect button of one socket's row
    await page.goto(`${baseUrl}#/sockets/`);
    await tableRows(page, expected.sockets);
    const row = page.locator(".v-data-table tbody tr", { hasText: expected.disconnect });
    await row.locator("button").click();
    // the click also reaches the row, which opens the socket's page: back to the list
    await page.goto(`${baseUrl}#/sockets/`);
    await tableRows(page, expected.sockets.filter((id) => id !== expected.disconnect));
    await page.waitForFunction(
      (gone) => !window.visibleRows().some((tr) => tr.innerText.includes(gone)),
      expected.disconnect,
    );
    const socketsAfter = await tableRows(page, []);
    say({ step: "socket disconnected" });

    say({
      done: true,
      sessionId: await sessionId.jsonValue(),
      sockets,
      rooms,
      servers,
      socketsAfter,
      errors,
    });
  } catch (error) {
    let html = "";
    try {
      if (page) html = (await page.locator("#app").innerText()).slice(0, 2000);
    } catch {
      // no page text then
    }
    say({ error: String(error && error.stack ? error.stack : error), page: html, errors });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

runMain(main);
