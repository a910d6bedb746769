// The main flow a person walks in the panel, in real Chromium: log in,
// install the game (fake steamcmd), create a blueprint, create and start a
// server, watch its console lines arrive live, stop it. Screenshots of each
// step go to $LEFT4ME_SCREENSHOTS.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { launchChromium, startPanel } from "./panel.mjs";

const shots = process.env.LEFT4ME_SCREENSHOTS || "/tmp/left4me-screenshots";
fs.mkdirSync(shots, { recursive: true });

let panel, browser, page;
const consoleErrors = [];

before(async () => {
  panel = await startPanel();
  browser = await launchChromium();
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await ctx.newPage();
  // Answers the flow provokes on purpose (a wrong password: 401, a form
  // error: 422) are not errors of the page.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (401|422)/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  if (browser) await browser.close();
  if (panel) await panel.stop();
});

async function shot(name) {
  await page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });
}

test("log in, install, blueprint, server, live log, stop", { timeout: 180000 }, async () => {
  await page.goto(panel.url + "/");
  await page.waitForURL(/\/login$/);
  await shot("01-login");
  await page.fill("#f-username", "admin");
  await page.fill("#f-password", "not-the-password");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Wrong username or password");
  assert.equal(await page.inputValue("#f-username"), "admin");
  await page.fill("#f-password", panel.password);
  await page.click("main button[type=submit]");
  await page.waitForURL(/\/servers$/);
  await shot("02-servers-empty");

  // Install: the job page's progress bar ends at 100 % and the job succeeds.
  await page.click("header >> text=Install");
  await page.click("main button:text-is('Install the game')");
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.waitForSelector("#job-state.job-succeeded", { timeout: 60000 });
  assert.equal(await page.$eval("#job-progress", (e) => e.value), 100);
  await page.waitForSelector("#job-log >> text=fully installed");
  await shot("03-install-done");

  // A blueprint, first with a mistake: the error shows at the field and
  // the rest of the form keeps what was typed. (A player count out of
  // range the browser holds back already: the field has min and max.)
  await page.click("header >> text=Blueprints");
  await page.click("text=New blueprint");
  await page.fill("#f-name", "Campaign coop");
  await page.fill("#f-map", "c1m1 hotel");
  await page.fill("#f-maxplayers", "4");
  await page.fill("#f-cvars", "sv_cheats 0\nmp_gamemode coop");
  await page.fill("#f-server_cfg", "sv_lan 1");
  await page.click("text=Create blueprint");
  await page.waitForSelector(".field.invalid >> text=is not a map name");
  assert.equal(await page.inputValue("#f-name"), "Campaign coop");
  assert.equal(await page.inputValue("#f-cvars"), "sv_cheats 0\nmp_gamemode coop");
  await shot("04-blueprint-error");
  await page.fill("#f-map", "c1m1_hotel");
  await page.click("text=Create blueprint");
  await page.waitForURL(/\/blueprints\/\d+\?notice=saved$/);
  await shot("05-blueprint-saved");

  // A server from it, started.
  await page.click("header >> text=Servers");
  await page.click("text=New server");
  await page.fill("#f-name", "Alpha <1>");
  await page.selectOption("#f-blueprint", { label: "Campaign coop" });
  await page.click("text=Create server");
  await page.waitForURL(/\/servers\/\d+\?notice=created$/);
  await page.click("button:has-text('Start')");
  await page.waitForURL(/\/servers\/\d+$/);
  // htmx refreshes the status section; the console streams over SSE.
  await page.waitForSelector("#state >> text=running", { timeout: 60000 });
  await page.waitForSelector("#console >> text=Executing server.cfg", { timeout: 30000 });
  await page.waitForSelector("#console-state >> text=Live:");
  await shot("06-server-running");

  const id = page.url().match(/\/servers\/(\d+)/)[1];

  // A line the server writes now arrives on the open page without a reload.
  const consoleLog = path.join(panel.state, "runtime", `s${id}`, "console.log");
  assert.ok(fs.existsSync(consoleLog), consoleLog);
  fs.appendFileSync(consoleLog, "L 11/23/2026 - 12:00:00: \"Zoey<2><STEAM_1:0:42><>\" say \"hello <b>live</b>\"\n");
  await page.waitForSelector("#console >> text=hello <b>live</b>", { timeout: 15000 });
  assert.equal(await page.$$eval("#console b", (e) => e.length), 0); // text, never markup
  await shot("06b-live-line");

  // The list shows state, map, players and ports at a glance.
  await page.click("header >> text=Servers");
  await page.waitForSelector("#server-rows >> text=running");
  const row = await page.textContent("#server-rows tr");
  assert.match(row, /Alpha <1>/);
  assert.match(row, /c1m1_hotel/);
  assert.match(row, /(\d+|–) \/ 4/);
  assert.match(row, /239\d\d/);
  await shot("07-server-list");

  // Stop it.
  await page.goto(`${panel.url}/servers/${id}`);
  await page.click("button:has-text('Stop')");
  await page.waitForSelector("#state >> text=stopped", { timeout: 60000 });
  await shot("08-server-stopped");

  // The same list on a phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(panel.url + "/servers");
  await shot("09-phone-list");

  assert.deepEqual(consoleErrors, []);
});
