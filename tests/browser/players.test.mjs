// The live server view (issue 11) in real Chromium: send an RCON command and
// see its answer appended, reload and see it replayed from the history,
// recall it with the up arrow; players with hostile names shown as text;
// the player count chart drawn. Screenshots go to $LEFT4ME_SCREENSHOTS.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

// The roster is read every second here (the default is 10 s). Set before
// the panel starts; node runs each test file in a process of its own.
process.env.LEFT4ME_ROSTER_INTERVAL = "1";
const { launchChromium, startPanel } = await import("./panel.mjs");

const shots = process.env.LEFT4ME_SCREENSHOTS || "/tmp/left4me-screenshots";
fs.mkdirSync(shots, { recursive: true });

const HOSTILE = [
  '<img src=x onerror="window.__pwned=1">',
  "<script>window.__pwned=2</script>",
  "Ma\u202eleahcim\u202c \"quoted\" 'single' & 🎮",
];

let panel, browser, page;
const problems = [];

before(async () => {
  panel = await startPanel();
  browser = await launchChromium();
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  page = await ctx.newPage();
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("dialog", (d) => { problems.push("dialog: " + d.message()); d.dismiss(); });
});

after(async () => {
  if (browser) await browser.close();
  if (panel) await panel.stop();
});

async function shot(name) {
  await page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });
}

function roster(players) {
  // A hand-made overlay the sandboxed fake server reads its players from.
  const dir = path.join(panel.state, "overlays", "roster", "left4dead2");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "fake_srcds_players.json"), JSON.stringify(players));
}

test("console round trip, history, recall; hostile names as text; the chart", { timeout: 240000 }, async () => {
  roster([
    ...HOSTILE.map((name, i) => ({ userid: 2 + i, name, steamid: `STEAM_1:0:${100 + i}`, connected: 60 * (i + 1),
      ping: 40 + i, loss: 0, state: "active", adr: "127.0.0.1:27005" })),
    { userid: 9, name: "Smoker", steamid: null, state: "active" },
  ]);

  await page.goto(panel.url + "/login");
  await page.fill("#f-username", "admin");
  await page.fill("#f-password", panel.password);
  await page.click("main button[type=submit]");
  await page.waitForURL(/\/servers$/);

  await page.goto(panel.url + "/admin/install");
  await page.click("main form[action='/admin/install'] button[type=submit]");
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.waitForSelector("#job-state.job-succeeded", { timeout: 60000 });

  await page.goto(panel.url + "/blueprints/new");
  await page.fill("#f-name", "live");
  await page.fill("#f-maxplayers", "8");
  // The roster overlay was made on the host by hand: an admin adds it by name.
  await page.fill("#f-overlay-add-name", "roster");
  await page.click("button[name=pick][value=add-name]");
  await page.waitForSelector("#overlays-picked li.pick[data-name=roster]");
  await page.click("text=Create blueprint");
  await page.waitForURL(/\/blueprints\/\d+/);

  await page.goto(panel.url + "/servers/new");
  await page.fill("#f-name", "Live");
  await page.click("main form button[type=submit]");
  await page.waitForURL(/\/servers\/\d+\?notice=created$/);
  const id = page.url().match(/\/servers\/(\d+)/)[1];
  await page.click(`form[action='/servers/${id}/start'] button`);
  await page.waitForSelector("#state >> text=running", { timeout: 60000 });

  // The roster arrives (the players section refreshes itself).
  await page.waitForSelector("#roster", { timeout: 30000 });
  const names = await page.$$eval("#roster td[data-label=Player] bdi", (e) => e.map((x) => x.textContent));
  for (const n of HOSTILE) assert.ok(names.includes(n), `${JSON.stringify(n)} not among ${JSON.stringify(names)}`);
  assert.ok(names.includes("Smoker"));
  // Text, never markup: no element came out of a name, nothing ran.
  assert.equal(await page.$$eval("#players img[src=x], #players script", (e) => e.length), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);

  // The chart: drawn, with a name for screen readers and a text summary.
  const chart = page.locator("#chart-24h");
  await chart.waitFor();
  assert.equal(await chart.getAttribute("role"), "img");
  assert.equal(await chart.getAttribute("aria-label"), "Players over the last 24 hours");
  const d = await page.getAttribute("#chart-24h path.chart-line", "d");
  assert.match(d, /M\s*[\d.]+ [\d.]+ H[\d.]+/);
  // Now, as a dot at the right end, at the count's height (3 of 8).
  const dot = await page.$eval("#chart-24h circle.chart-now", (c) => [+c.getAttribute("cx"), +c.getAttribute("cy")]);
  assert.ok(dot[0] > 590, JSON.stringify(dot));
  assert.ok(Math.abs(dot[1] - (6 + 116 * (1 - 3 / 8))) < 0.2, JSON.stringify(dot));
  const box = await chart.boundingBox();
  assert.ok(box && box.width > 200 && box.height > 50, JSON.stringify(box));
  assert.match(await page.textContent("#players figure figcaption"), /Peak: 3 players/);
  await page.locator("#players").scrollIntoViewIfNeeded();
  await shot("players-01-roster-and-chart");

  // The console: a command, its answer appended below the others.
  const input = page.locator("#rcon-command");
  await input.fill("echo hello from the browser");
  await input.press("Enter");
  const last = page.locator("#rcon-transcript .rcon-entry").last();
  await last.locator(".rcon-out").waitFor();
  assert.equal(await last.locator(".rcon-out").textContent(), "hello from the browser\n");
  assert.equal(await input.inputValue(), "");
  await input.fill("status");
  await input.press("Enter");
  await page.waitForSelector("#rcon-transcript .rcon-entry:last-child .rcon-out >> text=# userid");
  await page.locator("#rcon").scrollIntoViewIfNeeded();
  await shot("players-02-console");

  // Reload: the transcript is replayed from the history.
  await page.reload();
  const replayed = await page.$$eval("#rcon-transcript .rcon-entry", (e) => e.map((x) => x.dataset.command));
  assert.deepEqual(replayed, ["echo hello from the browser", "status"]);
  assert.equal(await page.textContent("#rcon-transcript .rcon-entry:first-child .rcon-out"),
    "hello from the browser\n");

  // Up recalls the newest command, up again the one before, down comes back.
  await input.focus();
  await input.press("ArrowUp");
  assert.equal(await input.inputValue(), "status");
  await input.press("ArrowUp");
  assert.equal(await input.inputValue(), "echo hello from the browser");
  await input.press("ArrowDown");
  assert.equal(await input.inputValue(), "status");
  // ... and sends it again.
  await input.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#rcon-transcript .rcon-entry").length === 3);

  // Refused in the browser too, with the reason, nothing sent.
  await input.fill("RCON_PASSWORD hunter2");
  await input.press("Enter");
  await page.waitForSelector("#rcon-transcript .rcon-entry.rcon-refused >> text=Refused:");
  await shot("players-03-console-refused");

  assert.deepEqual(problems, []);
});
