// What a new user meets in the panel (issue 13), in real Chromium, on a
// desktop window and on a 390x844 phone: the first steps on a fresh panel, a
// start before the game is installed, the install job (a failure in words,
// Retry, one bar for both steamcmd passes), the console and the actions
// following the server's state, the address to connect to, a port another
// program took, deleting, being logged out elsewhere, the users page, the
// jobs list and the forms. Screenshots of every step go to
// $LEFT4ME_SCREENSHOTS (newuser-<desktop|phone>-*.png).
import assert from "node:assert/strict";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import { launchChromium, root, startPanel } from "./panel.mjs";

const shots = process.env.LEFT4ME_SCREENSHOTS || "/tmp/left4me-screenshots";
fs.mkdirSync(shots, { recursive: true });

const VIEWPORTS = [
  ["desktop", { width: 1100, height: 800 }],
  ["phone", { width: 390, height: 844 }],
];

// steamcmd fails (the fake's "state is 0x202") while the marker file exists.
const tools = fs.mkdtempSync(path.join(os.tmpdir(), "left4me-newuser-"));
fs.chmodSync(tools, 0o755);
const failMarker = path.join(tools, "fail");
const steamcmd = path.join(tools, "steamcmd");
fs.writeFileSync(steamcmd, `#!/bin/sh
[ -e '${failMarker}' ] && export FAKE_STEAMCMD_FAIL=network
export FAKE_STEAMCMD_SLOW=0.4
exec '${path.join(root, "tests/fakes/steamcmd")}' "$@"
`, { mode: 0o755 });

let panel, browser;
const pageErrors = [];

before(async () => {
  panel = await startPanel({ env: { LEFT4ME_STEAMCMD: steamcmd } });
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  if (panel) await panel.stop();
  fs.rmSync(tools, { recursive: true, force: true });
});

// A logged-in page at a viewport; dialogs (confirm) are accepted and kept.
async function open(tag, viewport, user = "admin", password = null) {
  const ctx = await browser.newContext({ viewport });
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: panel.url });
  const page = await ctx.newPage();
  page.dialogs = [];
  page.on("dialog", (d) => { page.dialogs.push(d.message()); d.accept(); });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.shot = (name) => page.screenshot({ path: path.join(shots, `newuser-${tag}-${name}.png`), fullPage: true });
  await page.goto(panel.url + "/login");
  await page.fill("#f-username", user);
  await page.fill("#f-password", password || panel.password);
  await page.click("main button[type=submit]");
  await page.waitForURL(/\/servers$/);
  return page;
}

// What a person reads there (rendered text: a <dt> and its <dd> apart).
async function text(page, sel) {
  return (await page.innerText(sel)).replace(/\s+/g, " ").trim();
}

// The three buttons' state: which are enabled.
async function enabled(page) {
  const out = {};
  for (const b of ["Start", "Restart", "Stop", "Delete"])
    out[b] = await page.isEnabled(`#actions button:text-is("${b}")`);
  return out;
}

async function newServer(page, name, blueprint = null) {
  await page.goto(panel.url + "/servers/new");
  await page.fill("#f-name", name);
  if (blueprint) await page.selectOption("#f-blueprint", { label: blueprint });
  await page.click("text=Create server");
  await page.waitForURL(/\/servers\/\d+\?notice=created$/);
  return Number(page.url().match(/\/servers\/(\d+)/)[1]);
}

const servers = {};

for (const [tag, viewport] of VIEWPORTS) {
  test(`${tag}: a fresh panel says what comes first; a start before the install fails in words`, { timeout: 120000 }, async () => {
    const page = await open(tag, viewport);
    // The first steps: the game is not installed, no blueprint yet.
    const steps = await text(page, "#first-steps");
    assert.match(steps, /The game has not been installed from this panel yet/);
    assert.equal(await page.getAttribute("#first-steps a[href='/admin/install']", "href"), "/admin/install");
    if (tag === "desktop") assert.match(steps, /Create a blueprint/); // the phone's admin has one by now
    await page.shot("01-first-steps");

    // A blueprint (the number field has its range; the browser checks it).
    await page.goto(panel.url + "/blueprints/new");
    assert.equal(await page.getAttribute("#f-maxplayers", "min"), "1");
    assert.equal(await page.getAttribute("#f-maxplayers", "max"), "32");
    await page.fill("#f-name", `Coop ${tag}`);
    await page.fill("#f-maxplayers", "4");
    await page.click("text=Create blueprint");
    await page.waitForURL(/\/blueprints\/\d+\?notice=saved$/);

    const id = await newServer(page, `Alpha ${tag}`, `Coop ${tag}`);
    servers[tag] = id;
    // Never started: the console says so, and only Start and Delete fit.
    assert.equal(await text(page, "#console-state"), "Not started yet: its console shows here once it runs.");
    assert.deepEqual(await enabled(page), { Start: true, Restart: false, Stop: false, Delete: true });
    assert.match(await text(page, "#status"), /never started/);
    assert.match(await text(page, "#status"), /Address given at its first start/);
    await page.shot("02-server-new");

    // Start before the game is installed: the reason in words, the way to
    // the Install page, no "drift", no raw l4d2ctl line anywhere.
    await page.click("#actions button:text-is('Start')");
    await page.waitForURL(new RegExp(`/servers/${id}$`));
    await page.waitForSelector("#activity.error", { timeout: 60000 });
    const failure = await text(page, "#activity");
    assert.match(failure, /^Start failed: The game is not installed yet\. Install the game, then start the server\. Job #\d+$/);
    assert.equal(await page.getAttribute("#activity a[href='/admin/install']", "href"), "/admin/install");
    await page.waitForSelector(".events li >> text=Start failed: The game is not installed yet.");
    await page.waitForTimeout(2500); // the watch and the drift check have had their turn
    const body = await text(page, "main");
    assert.doesNotMatch(body, /drift|Asked for|Stopped outside the panel|no logs yet|error: instance|l4d2ctl install/);
    assert.equal(await page.$(".badge.drift"), null);
    assert.match(await text(page, "#console-state"), /^Stopped: it has written nothing yet/);
    assert.equal(await text(page, "#console"), "");
    await page.shot("03-start-before-install");
    await page.context().close();
  });
}

test("desktop: a failed install is red, says why in words and retries; one bar for both passes", { timeout: 180000 }, async () => {
  const page = await open("desktop", VIEWPORTS[0][1]);
  await page.goto(panel.url + "/admin/install");
  assert.match(await text(page, "#install-state"), /not installed The game has not been installed from this panel yet/);
  await page.shot("04-install-page-fresh");

  fs.writeFileSync(failMarker, "");
  await page.click("main button:text-is('Install the game')");
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.waitForSelector("#job-state.job-failed", { timeout: 90000 });
  await page.waitForSelector(".progress.failed");
  assert.match(await text(page, "#job-result"),
    /^There is not enough free disk space for the game, or its folder is not writable\. Retry when that is fixed\. \(steamcmd said: .*state is 0x202/);
  assert.equal(await page.getAttribute("#job-result", "class"), "failed-text");
  assert.equal(await text(page, "#job-progress-label"), "Failed");
  // The bar is red.
  const color = await page.$eval("#job-progress", (e) => getComputedStyle(e).accentColor);
  assert.equal(color, "rgb(179, 38, 30)");
  assert.ok(await page.isVisible("#job-retry"));
  await page.shot("05-install-failed");

  // Retry: one bar for the whole install, its two steamcmd passes two
  // parts of it, never 100 % and then 0 %.
  fs.rmSync(failMarker);
  await page.click("#job-retry");
  await page.waitForURL(/\/jobs\/\d+$/);
  const seen = [];
  let labels = new Set();
  for (let i = 0; i < 600; i++) {
    const v = await page.$eval("#job-progress", (e) => e.value).catch(() => null);
    if (v !== null) seen.push(v);
    labels.add(await page.textContent("#job-progress-label").catch(() => ""));
    if (i === 12) await page.shot("06-install-part-1");
    if (await page.$("#job-state.job-succeeded")) break;
    await page.waitForTimeout(100);
  }
  await page.waitForSelector("#job-state.job-succeeded");
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), `the bar went backwards: ${seen}`);
  assert.ok(seen.some((v) => v > 5 && v < 50) && seen.some((v) => v > 50 && v < 100), `${seen}`);
  assert.ok([...labels].some((l) => /^Part 1 of 2 \(game files\)/.test(l)), [...labels].join("|"));
  assert.ok([...labels].some((l) => /^Part 2 of 2 \(Linux server\)/.test(l)), [...labels].join("|"));
  assert.equal(await page.$eval("#job-progress", (e) => e.value), 100);
  assert.equal(await text(page, "#job-result"), "The game is installed: build 100.");
  await page.shot("07-install-done");
  await page.context().close();
});

test("phone: the failed install in red with Retry; the install page says which build is installed", { timeout: 60000 }, async () => {
  const page = await open("phone", VIEWPORTS[1][1]);
  await page.goto(panel.url + "/jobs");
  await page.click("tr:has(.job-failed):has-text('Install the game') a");
  await page.waitForURL(/\/jobs\/\d+$/);
  assert.match(await text(page, "#job-result"), /^There is not enough free disk space for the game/);
  assert.equal(await page.$eval("#job-progress", (e) => getComputedStyle(e).accentColor), "rgb(179, 38, 30)");
  assert.ok(await page.isVisible("#job-retry"));
  await page.shot("05-install-failed");
  await page.goto(panel.url + "/admin/install");
  assert.match(await text(page, "#install-state"), /installed The game is installed: build 100\. Installed .* \(job #\d+\)\./);
  assert.ok(await page.isVisible("main button:text-is('Update the game')"));
  // Builds: an update no longer asks for the servers to be stopped.
  assert.match(await text(page, "#install-hint"), /^An update downloads the new build beside the one your servers run: they keep running/);
  assert.equal(await page.getAttribute("#install-hint a", "href"), "/admin/builds");
  await page.shot("04-install-page-installed");
  await page.context().close();
});

for (const [tag, viewport] of VIEWPORTS) {
  test(`${tag}: start, the console attaches at once, the address to connect to, actions that fit, stop`, { timeout: 150000 }, async () => {
    const page = await open(tag, viewport);
    const id = servers[tag];
    await page.goto(`${panel.url}/servers/${id}`);
    // The page is open before the server runs: its console attaches when
    // the state changes, without a reload.
    await page.click("#actions button:text-is('Start')");
    await page.waitForURL(new RegExp(`/servers/${id}$`));
    const activity = await page.waitForSelector("#activity", { timeout: 10000 }).catch(() => null);
    if (activity) assert.match(await activity.textContent(), /Start(ing…|: waiting)/);
    await page.waitForSelector("#state >> text=running", { timeout: 60000 });
    await page.waitForSelector("#console >> text=Executing server.cfg", { timeout: 20000 });
    assert.equal(await text(page, "#console-state"), "Live: new lines show as the server writes them.");
    // The buttons wait for the start job to end (it may end just after
    // the state says running).
    await page.waitForSelector("#actions button:text-is('Stop'):enabled");
    assert.equal(await page.$("#activity"), null); // the job is done and it worked: nothing to say
    assert.deepEqual(await enabled(page), { Start: false, Restart: true, Stop: true, Delete: false });
    assert.equal(await page.getAttribute("#actions button:text-is('Delete')", "title"), "Stop it first.");
    // The address players connect to, with a copy button.
    const cmd = await text(page, "#connect");
    assert.match(cmd, /^connect 127\.0\.0\.1:239\d\d$/);
    await page.click("button[data-copy]");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), cmd);
    await page.shot("08-running");

    await page.click("#actions button:text-is('Stop')");
    await page.waitForSelector("#state >> text=stopped", { timeout: 60000 });
    await page.waitForFunction(() => document.getElementById("console-state").textContent.startsWith("Stopped: these are"));
    assert.match(await text(page, "#console"), /Executing server\.cfg/);
    await page.waitForSelector("#actions button:text-is('Start'):enabled");
    assert.deepEqual(await enabled(page), { Start: true, Restart: false, Stop: false, Delete: true });
    await page.shot("09-stopped");
    await page.context().close();
  });
}

for (const [tag, viewport] of VIEWPORTS) {
  test(`${tag}: a port another program took: the start moves it and says so`, { timeout: 120000 }, async () => {
    const page = await open(tag, viewport);
    const id = servers[tag];
    await page.goto(`${panel.url}/servers/${id}`);
    const before = Number((await text(page, "#connect")).split(":").pop());
    // A foreign program (this test) holds the server's game port.
    const sock = dgram.createSocket("udp4");
    await new Promise((resolve, reject) => { sock.once("error", reject); sock.bind(before, "0.0.0.0", resolve); });
    try {
      await page.click("#actions button:text-is('Start')");
      await page.waitForSelector("#state >> text=running", { timeout: 60000 });
      await page.waitForFunction((p) => !document.getElementById("connect").textContent.endsWith(":" + p), before);
      const after_ = Number((await text(page, "#connect")).split(":").pop());
      assert.notEqual(after_, before);
      await page.waitForSelector(`.events li >> text=Port ${before} was in use by another program`);
      const moved = await text(page, ".events li:has-text('was in use')");
      assert.match(moved, new RegExp(`Port ${before} was in use by another program \\('node', pid ${process.pid}\\), so it moved from port ${before} to ${after_}`));
      await page.shot("10-port-moved");
      await page.click("#actions button:text-is('Stop')");
      await page.waitForSelector("#state >> text=stopped", { timeout: 60000 });
    } finally {
      sock.close();
    }
    await page.context().close();
  });
}

for (const [tag, viewport] of VIEWPORTS) {
  test(`${tag}: deleting names the server, the notice follows the job, the number is not reused`, { timeout: 90000 }, async () => {
    const page = await open(tag, viewport);
    const id = servers[tag];
    await page.goto(`${panel.url}/servers/${id}`);
    await page.click("#actions button:text-is('Delete')");
    assert.match(page.dialogs.pop(), new RegExp(`^Delete the server "Alpha ${tag}"\\? Its settings and files on the host are removed\\. This cannot be undone\\.$`));
    await page.waitForURL(/\/servers\?notice=deleting&job=\d+$/);
    await page.shot("11-deleting");
    await page.waitForSelector(`#job-notice >> text=Deleted Alpha ${tag}.`, { timeout: 60000 });
    await page.waitForFunction((n) => !document.getElementById("server-rows").textContent.includes(n), `Alpha ${tag}`,
      { timeout: 15000 });
    await page.shot("12-deleted");
    const again = await newServer(page, `Beta ${tag}`, `Coop ${tag}`);
    assert.ok(again > id, `server ${again} after ${id}`);
    const gone = await page.goto(`${panel.url}/servers/${id}`);
    assert.equal(gone.status(), 404);
    await page.context().close();
  });
}

for (const [tag, viewport] of VIEWPORTS) {
  test(`${tag}: logged out elsewhere, the live parts say so and the login page says why`, { timeout: 90000 }, async () => {
    const page = await open(tag, viewport);
    const user = `carol${tag}`, pw = "carol-password-1";
    await page.goto(panel.url + "/admin/users");
    await page.fill("#f-username", user);
    await page.fill("#f-password", pw);
    await page.click("text=Create user");
    await page.context().close();

    const here = await open(tag, viewport, user, pw);
    await here.goto(panel.url + "/blueprints/new");
    await here.fill("#f-name", "mine");
    await here.click("text=Create blueprint");
    const id = await newServer(here, "Carol's");
    const there = await open(tag, viewport, user, pw);
    await there.goto(panel.url + "/profile");
    assert.equal(await there.getAttribute("#f-current", "autocomplete"), "current-password");
    assert.equal(await there.getAttribute("#f-new", "autocomplete"), "new-password");
    await there.fill("#f-current", pw);
    await there.fill("#f-new", "carol-password-2");
    await there.fill("#f-confirm", "carol-password-2");
    await there.click("main button[type=submit]");
    await there.waitForURL(/notice=password/);

    await here.waitForSelector("#logged-out", { timeout: 15000 });
    assert.match(await text(here, "#logged-out"), /^You were logged out: what this page shows no longer updates\. Log in again$/);
    assert.match(here.url(), new RegExp(`/servers/${id}\\?notice=created$`));
    await here.shot("13-logged-out");
    await here.click("#logged-out a");
    await here.waitForURL(/\/login\?notice=ended$/);
    assert.match(await text(here, ".notice"), /^You were logged out: your session ended elsewhere\. Your password was changed/);
    assert.equal(await here.getAttribute("#f-password", "autocomplete"), "current-password");
    assert.equal(await here.getAttribute("#f-username", "autocomplete"), "username");
    await here.shot("14-login-why");
    await here.context().close();
    await there.context().close();
  });
}

for (const [tag, viewport] of VIEWPORTS) {
  test(`${tag}: users: a new password by redirect, disabling can be undone, notices say who, delete`, { timeout: 90000 }, async () => {
    const page = await open(tag, viewport);
    const user = `dave${tag}`;
    await page.goto(panel.url + "/admin/users");
    assert.equal(await page.getAttribute("#f-password", "autocomplete"), "new-password");
    // One's own row: no reset here (the profile page does that).
    const own = await text(page, "tr:has(td:text-is('admin'))");
    assert.match(own, /This is you: change your password on your profile\./);
    assert.equal(await page.$("tr:has(td:text-is('admin')) button:text-is('Reset password')"), null);

    await page.fill("#f-username", user);
    await page.click("text=Create user");
    await page.waitForURL(/\/admin\/users\/\d+\/password$/);
    const pw = await text(page, "#new-password");
    assert.match(await text(page, "main"), new RegExp(`Created the user ${user}\\.`));
    await page.shot("15-new-password");
    await page.reload();
    assert.equal(await text(page, "#new-password"), pw); // a reload resets nothing
    await page.click("text=Back to the users");

    const row = `tr:has(td:text-is('${user}'))`;
    await page.click(`${row} button:text-is('Disable')`);
    assert.match(page.dialogs.pop(), new RegExp(`^Disable ${user}\\? .* You can undo this\\.$`));
    await page.waitForSelector("#users-notice");
    assert.equal(await text(page, "#users-notice"),
      `Disabled ${user}: they were logged out and cannot log in until you enable the account again.`);
    await page.shot("16-disabled");
    await page.click(`${row} button:text-is('Enable')`);
    assert.equal(await text(page, "#users-notice"), `Enabled ${user}: they can log in again.`);

    await page.click(`${row} button:text-is('Reset password')`);
    assert.match(page.dialogs.pop(), new RegExp(`^Reset the password of ${user}\\?`));
    await page.waitForURL(/\/admin\/users\/\d+\/password$/);
    assert.notEqual(await text(page, "#new-password"), pw);
    assert.match(await text(page, "main"), new RegExp(`Reset the password of ${user}: they were logged out everywhere\\.`));
    await page.goto(panel.url + "/admin/users");
    await page.click(`${row} button:text-is('Delete')`);
    assert.equal(page.dialogs.pop(), `Delete the user ${user}? This cannot be undone.`);
    assert.equal(await text(page, "#users-notice"), `Deleted the user ${user}.`);
    assert.equal(await page.$(row), null);
    await page.shot("17-user-deleted");
    await page.context().close();
  });
}

for (const [tag, viewport] of VIEWPORTS) {
  test(`${tag}: the jobs list says when and how long; a form error does not repeat its hint`, { timeout: 60000 }, async () => {
    const page = await open(tag, viewport);
    await page.goto(panel.url + "/jobs");
    const first = await text(page, "table.list tbody tr:first-child");
    assert.match(first, /\d+ s|min/); // took
    assert.ok(await page.$("table.list tbody tr time[datetime]"));
    await page.shot("18-jobs");

    await page.goto(panel.url + "/blueprints/new");
    await page.fill("#f-name", `Versus ${tag}`);
    await page.fill("#f-maxplayers", "99");
    // The browser holds a number outside the range back.
    assert.equal(await page.$eval("#f-maxplayers", (e) => e.validity.rangeOverflow), true);
    await page.fill("#f-maxplayers", "8");
    await page.fill("#f-map", "c1m1.hotel");
    await page.click("text=Create blueprint");
    await page.waitForSelector(".field.invalid");
    const field = await text(page, ".field.invalid");
    assert.match(field, /Map: 'c1m1\.hotel' is not a map name/);
    assert.doesNotMatch(field, /The start map, e\.g\./); // the error replaced the hint
    assert.equal(await page.inputValue("#f-maxplayers"), "8");
    await page.shot("19-form-error");
    await page.context().close();
  });
}

test("no script errors on any page", () => {
  assert.deepEqual(pageErrors, []);
});
