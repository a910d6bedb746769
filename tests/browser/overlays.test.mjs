// Workshop overlays in real Chromium: paste a collection link into a new
// Workshop overlay and watch its build's progress bar climb to 100 %, stack
// it with a second overlay in a blueprint and reorder the two by dragging,
// start a server from it and find the Workshop item in the server's merged
// tree; add an item while it runs and restart it from the notice its page
// shows. The Steam Web API is the fake (tests/fakes/steam_api.py), serving
// its files at a fixed rate so that the bar has a way to go.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import { launchChromium, root, startPanel } from "./panel.mjs";

const shots = process.env.LEFT4ME_SCREENSHOTS || "/tmp/left4me-screenshots";
fs.mkdirSync(shots, { recursive: true });

const ITEMS = ["1001", "1002", "1003", "1004", "1005", "1006"];
const ITEM_SIZE = 1024 * 1024;
const COLLECTION = "2000";
const EXTRA = "3000";

let steam, steamDir, panel, browser, page;
const consoleErrors = [];

// The fake Steam Web API as a program: its fixture, its URL once it listens.
async function startSteam() {
  steamDir = fs.mkdtempSync(path.join(os.tmpdir(), "left4me-steam-"));
  const fixture = { items: {}, collections: {} };
  ITEMS.forEach((id, i) => { fixture.items[id] = { size: ITEM_SIZE, title: `Campaign part ${i + 1}` }; });
  fixture.collections[COLLECTION] = { children: ITEMS, title: "A whole campaign" };
  fixture.items[EXTRA] = { size: 4096, title: "A later add-on" };
  fs.writeFileSync(path.join(steamDir, "fixture.json"), JSON.stringify(fixture));
  const urlFile = path.join(steamDir, "url");
  // 512 KiB/s a download, 4 at a time: about three seconds for the build.
  steam = spawn("/usr/bin/python3", [path.join(root, "tests/fakes/steam_api.py"), "--fixture",
    path.join(steamDir, "fixture.json"), "--url-file", urlFile, "--rate", String(512 * 1024)],
  { stdio: "ignore" });
  for (let i = 0; i < 100 && !fs.existsSync(urlFile); i++) await new Promise((r) => setTimeout(r, 100));
  return fs.readFileSync(urlFile, "utf8").trim();
}

before(async () => {
  // The panel passes its environment on to l4d2ctl.
  process.env.LEFT4ME_STEAM_API_URL = await startSteam();
  process.env.LEFT4ME_STEAM_API_TIMEOUT = "10";
  panel = await startPanel();
  browser = await launchChromium();
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  page = await ctx.newPage();
  // Steam's image host is not reachable from here: it answers with a tiny
  // image, so the previews are real images in the page.
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
  await page.route("https://steamuserimages-a.akamaihd.net/**", (route) =>
    route.fulfill({ status: 200, contentType: "image/png", body: png }));
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
});

after(async () => {
  if (browser) await browser.close();
  if (panel) await panel.stop();
  if (steam) steam.kill("SIGTERM");
  if (steamDir) fs.rmSync(steamDir, { recursive: true, force: true });
});

async function shot(name) {
  await page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });
}

async function pickedOrder() {
  return page.$$eval("#overlays-picked li.pick input[name=overlays]", (l) => l.map((i) => i.value));
}

test("a Workshop collection, a blueprint ordered by dragging, a server that has the item", { timeout: 240000 },
  async () => {
    await page.goto(panel.url + "/login");
    await page.fill("#f-username", "admin");
    await page.fill("#f-password", panel.password);
    await page.click("main button[type=submit]");
    await page.waitForURL(/\/servers$/);

    // The game, for the server at the end.
    await page.goto(panel.url + "/admin/install");
    await page.click("main button:text-is('Install the game')");
    await page.waitForSelector("#job-state.job-succeeded", { timeout: 60000 });

    // A Workshop overlay, and the collection's link pasted into it.
    await page.click("header >> text=Overlays");
    await page.fill("#f-name", "campaign");
    await page.check("#f-kind-workshop");
    await page.click("text=Create overlay");
    await page.waitForURL(/\/overlays\/\d+\?notice=created$/);
    const overlayUrl = page.url().replace(/\?.*$/, "");
    await page.fill("#f-sources", `https://steamcommunity.com/sharedfiles/filedetails/?id=${COLLECTION}`);
    await page.click("text=Add and build");
    await page.waitForURL(/notice=queued$/);

    // The bar moves with the bytes downloaded, and ends at 100 %.
    const seen = new Set();
    const deadline = Date.now() + 60000;
    for (;;) {
      const v = await page.$eval("#job-progress", (e) => e.value);
      seen.add(v);
      if (v >= 100 || Date.now() > deadline) break;
      await page.waitForTimeout(50);
    }
    await shot("overlays-01-building");
    assert.equal(Math.max(...seen), 100, [...seen].join(" "));
    assert.ok([...seen].some((v) => v > 0 && v < 100), "no value between 0 and 100: " + [...seen].join(" "));
    await page.waitForSelector("#job-state.job-succeeded", { timeout: 30000 });
    assert.equal(await page.textContent("#job-progress-text"), "100.0%");
    await page.waitForSelector(`#job-log >> text=item ${ITEMS[0]} 'Campaign part 1': downloaded`);
    // When the build ends the page fetches its items again.
    await page.waitForSelector("body[data-overlay-refreshed]");
    for (const [i, id] of ITEMS.entries()) {
      await page.waitForSelector(`#item-${id} >> text=Campaign part ${i + 1}`);
    }
    const previews = await page.$$eval("#workshop-items img.preview", (l) => l.map((i) => i.naturalWidth));
    assert.equal(previews.length, ITEMS.length);
    assert.ok(previews.every((w) => w === 1), previews.join(" "));
    assert.match(await page.textContent("#overlay-state"), /ready/);
    await shot("overlays-02-built");

    // A second overlay, to stack over the first.
    await page.click("header >> text=Overlays");
    await page.fill("#f-name", "configs");
    await page.check("#f-kind-files");
    await page.click("text=Create overlay");
    await page.waitForURL(/\/overlays\/\d+\?notice=created$/);
    await page.goto(panel.url + "/overlays");
    await shot("overlays-03-list");

    // A blueprint that stacks both: picked from the list, then reordered by
    // dragging the second above the first.
    await page.click("header >> text=Blueprints");
    await page.click("text=New blueprint");
    await page.fill("#f-name", "Workshop coop");
    await page.selectOption("#f-overlay-add", { label: "campaign" });
    await page.click("#overlay-picker button[value=add]");
    await page.selectOption("#f-overlay-add", { label: "configs" });
    await page.click("#overlay-picker button[value=add]");
    const [campaign, configs] = await pickedOrder();
    assert.match(campaign, /^u\d+-campaign$/);
    assert.match(configs, /^u\d+-configs$/);
    const grip = page.locator(`#overlays-picked li[data-name="${configs}"] .grip`);
    await page.locator("#overlay-picker").scrollIntoViewIfNeeded();
    const first = await page.locator(`#overlays-picked li[data-name="${campaign}"]`).boundingBox();
    const from = await grip.boundingBox();
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(first.x + first.width / 2, first.y + 4, { steps: 8 });
    await page.mouse.up();
    assert.deepEqual(await pickedOrder(), [configs, campaign]);
    assert.match(await page.textContent("#overlays-said"), /configs: position 1 of 2/);
    // The keyboard way: the arrows move an entry too (and back again).
    await page.focus(`#overlays-picked li[data-name="${campaign}"] button[value^=up]`);
    await page.keyboard.press("Enter");
    assert.deepEqual(await pickedOrder(), [campaign, configs]);
    await page.focus(`#overlays-picked li[data-name="${campaign}"] button[value^=down]`);
    await page.keyboard.press("Enter");
    assert.deepEqual(await pickedOrder(), [configs, campaign]);
    await shot("overlays-04-picker");
    await page.click("text=Create blueprint");
    await page.waitForURL(/\/blueprints\/\d+\?notice=saved$/);
    assert.deepEqual(await pickedOrder(), [configs, campaign]);

    // A server from it, started: the Workshop item is in its merged tree.
    await page.click("header >> text=Servers");
    await page.click("text=New server");
    await page.fill("#f-name", "Workshop server");
    await page.selectOption("#f-blueprint", { label: "Workshop coop" });
    await page.click("text=Create server");
    await page.waitForURL(/\/servers\/\d+\?notice=created$/);
    const id = page.url().match(/\/servers\/(\d+)/)[1];
    await page.click("button:has-text('Start')");
    await page.waitForSelector("#state >> text=running", { timeout: 60000 });
    await shot("overlays-05-server");
    const addons = path.join(panel.state, "runtime", `s${id}`, "merged", "left4dead2", "addons");
    for (const item of ITEMS) {
      const vpk = path.join(addons, `${item}.vpk`);
      assert.ok(fs.existsSync(vpk), vpk);
      assert.equal(fs.statSync(vpk).size, ITEM_SIZE);
    }
    // The overlay's page knows the server runs it. An item added now is
    // built, but the running server keeps what it mounted: its page says a
    // restart would pick the new content up.
    await page.goto(overlayUrl);
    await page.waitForSelector("#overlay-running >> text=Workshop server");
    await page.fill("#f-sources", EXTRA);
    await page.click("text=Add and build");
    await page.waitForSelector("#job-state.job-succeeded", { timeout: 30000 });
    assert.ok(!fs.existsSync(path.join(addons, `${EXTRA}.vpk`)));
    await page.goto(`${panel.url}/servers/${id}`);
    await page.waitForSelector("#overlay-news >> text=Newer content is ready in campaign");
    await shot("overlays-06-restart-offered");
    // The server page follows the restart job (issue 13: no "Queued" notice).
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/servers/${id}/restart`)),
      page.click("#overlay-news button:has-text('Restart to pick it up')"),
    ]);
    for (let i = 0; i < 300 && !fs.existsSync(path.join(addons, `${EXTRA}.vpk`)); i++) await page.waitForTimeout(100);
    assert.ok(fs.existsSync(path.join(addons, `${EXTRA}.vpk`)), "the restart brought the new item");

    assert.deepEqual(consoleErrors, []);
  });
