// Files and script overlays in real Chromium (issue 10): a folder of files
// dropped from the desktop onto the tree, a file edited (its encoding and
// line ends kept), moved by dragging, a folder downloaded as a zip, files
// and folders deleted; a script overlay saved and built from the panel with
// its log streaming.
//
// What the drop exercises, honestly: Chromium's DevTools protocol
// (Input.dispatchDragEvent) drags real paths from this machine's disk, as
// the desktop would, so the page's drop handler gets a real DataTransfer,
// walks the folder through webkitGetAsEntry() and reads the files from
// disk; only the mouse gesture itself is synthetic. The move inside the
// tree is Playwright's dragTo (real mouse events, HTML5 drag and drop).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { launchChromium, startPanel } from "./panel.mjs";

const shots = process.env.LEFT4ME_SCREENSHOTS || "/tmp/left4me-screenshots";
fs.mkdirSync(shots, { recursive: true });

let panel, browser, ctx, page, work;
const consoleErrors = [];

before(async () => {
  panel = await startPanel();
  browser = await launchChromium();
  ctx = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
  page = await ctx.newPage();
  // Answers provoked on purpose (a refused upload: 422, a retried one: 503)
  // are not errors of the page.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (422|503)/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  work = fs.mkdtempSync(path.join(panel.state, "..", "desktop-"));
});

after(async () => {
  if (browser) await browser.close();
  if (panel) await panel.stop();
});

async function shot(name) {
  await page.screenshot({ path: path.join(shots, "files-" + name + ".png"), fullPage: true });
}

async function login() {
  await page.goto(panel.url + "/login");
  await page.fill("#f-username", "admin");
  await page.fill("#f-password", panel.password);
  await page.click("main button[type=submit]");
  await page.waitForURL(/\/servers$/);
}

async function createOverlay(name, kind) {
  await page.goto(panel.url + "/overlays");
  await page.fill("#f-name", name);
  await page.check("#f-kind-" + kind);
  await page.click("text=Create overlay");
  await page.waitForURL(/\/overlays\/\d+\?notice=created$/);
}

// The overlay's working tree on the host (admin is user 1: host name u1-NAME).
const tree = (name, rel = "") => path.join(panel.state, "overlay-store", "work", "u1-" + name, rel);

// Drags the given paths from the disk onto an element, as the desktop would.
async function dropFromDesktop(locator, paths) {
  const box = await locator.boundingBox();
  const x = box.x + box.width / 3, y = box.y + box.height / 2;
  const cdp = await ctx.newCDPSession(page);
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ["dragEnter", "dragOver", "drop"]) await cdp.send("Input.dispatchDragEvent", { type, x, y, data });
  await cdp.detach();
}

const row = (p) => page.locator(`#files-tree li[data-path="${p}"] > .row`);
// The tree has loaded every folder it shows and has no refresh waiting.
const settled = () => page.waitForSelector("#files[data-loading='0']");

test("a files overlay: drop a folder, edit, move, zip, delete", { timeout: 180000 }, async () => {
  await login();
  await createOverlay("cfg", "files");
  await page.waitForSelector("#files-tree li.top[aria-expanded=true]");
  await shot("01-empty");

  // A folder of 20 files on the "desktop": text, a binary, a file in
  // Windows-1252 with CRLF line ends (how old Source configs often are),
  // files in sub-folders; and one more whose name the host refuses (a
  // backslash), which must fail alone without stopping the others.
  const pack = path.join(work, "pack");
  fs.mkdirSync(path.join(pack, "cfg", "deep"), { recursive: true });
  fs.mkdirSync(path.join(pack, "maps"));
  const want = {};
  for (let i = 0; i < 16; i++) {
    const rel = i < 8 ? `cfg/file${i}.cfg` : i < 12 ? `cfg/deep/d${i}.txt` : `maps/m${i}.txt`;
    want[rel] = Buffer.from(`// file ${i}\n` + "sv_x ".repeat(i * 40) + "\n");
  }
  want["server.cfg"] = Buffer.from("hostname \"test\"\nsv_cheats 0\n");
  want["legacy.cfg"] = Buffer.from("// caf\xe9 config\r\nsv_alltalk 1\r\n", "latin1");
  want["banner.bin"] = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));
  want["utf16.txt"] = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Zoë says hi\n", "utf16le")]);
  assert.equal(Object.keys(want).length, 20);
  for (const [rel, bytes] of Object.entries(want)) fs.writeFileSync(path.join(pack, rel), bytes);
  fs.writeFileSync(path.join(pack, "bad\\name.txt"), "refused\n");

  // The first attempt of one file meets a panel that is briefly away
  // (503): the queue sends it again by itself.
  let failedOnce = false;
  await page.route(/\/files\/put\?path=pack%2Fcfg%2Ffile3\.cfg/, async (route) => {
    if (!failedOnce) {
      failedOnce = true;
      await route.fulfill({ status: 503, contentType: "application/json", body: '{"error":"busy"}' });
    } else await route.continue();
  });

  // At most 3 uploads at a time: the uploads panel is watched throughout.
  await page.evaluate(() => {
    window.maxSending = 0;
    new MutationObserver(() => {
      const n = document.querySelectorAll('#upload-list li[data-state="sending"]').length;
      window.maxSending = Math.max(window.maxSending, n);
    }).observe(document.getElementById("files"), { subtree: true, attributes: true, attributeFilter: ["data-state"] });
  });
  await dropFromDesktop(row(""), [pack]);
  await page.waitForSelector("#upload-summary >> text=20 of 21 uploaded, 1 failed.", { timeout: 60000 });
  await shot("02-dropped");
  assert.ok(failedOnce, "the retried file was sent twice");
  const maxSending = await page.evaluate(() => window.maxSending);
  assert.ok(maxSending >= 1 && maxSending <= 3, "uploads at once: " + maxSending);
  const failed = page.locator('#upload-list li[data-state="failed"]');
  assert.equal(await failed.count(), 1);
  assert.match(await failed.textContent(), /pack\/bad\\name\.txt.*backslash/);
  // Every file is on the host, byte for byte; the refused one is not.
  for (const [rel, bytes] of Object.entries(want)) assert.deepEqual(fs.readFileSync(tree("cfg", "pack/" + rel)), bytes, rel);
  assert.equal(fs.existsSync(tree("cfg", "pack/bad\\name.txt")), false);
  // The page says the edits reach servers at their next start.
  assert.equal(await page.isVisible("#files-pending"), true);

  // Open the folder in the tree; edit the Windows-1252 file.
  await page.click('#files-tree li[data-path="pack"] > .row button.name');
  await settled();
  await row("pack/legacy.cfg").locator("button.name").click();
  await page.waitForSelector("#fe-text:not([hidden])");
  assert.match(await page.textContent("#fe-encoding"), /Windows-1252, CRLF/);
  assert.equal(await page.inputValue("#fe-content"), "// caf\u00e9 config\nsv_alltalk 1\n");
  await page.fill("#fe-content", "// caf\u00e9 config\nsv_alltalk 0\nsv_pure 1\n");
  await shot("03-editor");
  await page.click("#fe-save");
  await page.waitForSelector("#file-editor", { state: "hidden" });
  assert.deepEqual(fs.readFileSync(tree("cfg", "pack/legacy.cfg")),
    Buffer.from("// caf\xe9 config\r\nsv_alltalk 0\r\nsv_pure 1\r\n", "latin1"));
  // The UTF-16 file opened and saved unchanged is the same bytes.
  await row("pack/utf16.txt").locator("button.name").click();
  await page.waitForSelector("#fe-text:not([hidden])");
  assert.match(await page.textContent("#fe-encoding"), /UTF-16LE with BOM/);
  await page.click("#fe-save");
  await page.waitForSelector("#file-editor", { state: "hidden" });
  assert.deepEqual(fs.readFileSync(tree("cfg", "pack/utf16.txt")), want["utf16.txt"]);
  // A binary file is offered for replacement, not as text.
  await row("pack/banner.bin").locator("button.name").click();
  await page.waitForSelector("#fe-binary:not([hidden]) >> text=not text");
  await page.click("#fe-cancel");

  // Move the edited file into cfg/deep by dragging it there.
  await page.click('#files-tree li[data-path="pack/cfg"] > .row button.name');
  await page.click('#files-tree li[data-path="pack/cfg/deep"] > .row button.name');
  await settled();
  await row("pack/legacy.cfg").dragTo(row("pack/cfg/deep"));
  await page.waitForSelector('#files-tree li[data-path="pack/cfg/deep/legacy.cfg"]');
  assert.equal(fs.existsSync(tree("cfg", "pack/legacy.cfg")), false);
  assert.equal(fs.readFileSync(tree("cfg", "pack/cfg/deep/legacy.cfg"), "latin1"), "// caf\xe9 config\r\nsv_alltalk 0\r\nsv_pure 1\r\n");
  // A folder dragged into its own sub-folder is refused, and nothing moves.
  await settled();
  await row("pack/cfg").dragTo(row("pack/cfg/deep"));
  await page.waitForSelector("#files-said >> text=A folder cannot go into itself.");
  assert.ok(fs.existsSync(tree("cfg", "pack/cfg/deep/legacy.cfg")));
  assert.equal(fs.existsSync(tree("cfg", "pack/cfg/deep/cfg")), false);
  await shot("04-moved");

  // Rename through the dialog (the path field), with a new folder on the way.
  await row("pack/server.cfg").locator("button.name").click();
  await page.waitForSelector("#fe-text:not([hidden])");
  await page.fill("#fe-path", "pack/cfg/renamed/server.cfg");
  await page.click("#fe-save");
  await page.waitForSelector("#file-editor", { state: "hidden" });
  await page.waitForSelector('#files-tree li[data-path="pack/cfg/renamed"]');
  assert.equal(fs.readFileSync(tree("cfg", "pack/cfg/renamed/server.cfg"), "utf8"), "hostname \"test\"\nsv_cheats 0\n");
  assert.equal(fs.existsSync(tree("cfg", "pack/server.cfg")), false);

  // A new folder with intermediates, and a new file in it.
  await page.click("text=New folder");
  await page.fill("#fe-path", "made/a/b");
  await page.click("#fe-save");
  await page.waitForSelector('#files-tree li[data-path="made"]');
  assert.ok(fs.statSync(tree("cfg", "made/a/b")).isDirectory());
  await page.click("text=New file");
  await page.fill("#fe-path", "made/a/b/new.cfg");
  await page.fill("#fe-content", "echo new\n");
  await page.click("#fe-save");
  await page.waitForSelector("#file-editor", { state: "hidden" });
  assert.equal(fs.readFileSync(tree("cfg", "made/a/b/new.cfg"), "utf8"), "echo new\n");

  // Download pack/cfg as a zip, and look inside.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    row("pack/cfg").locator("a.files-act", { hasText: "zip" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "cfg.zip");
  const zip = path.join(work, "cfg.zip");
  await download.saveAs(zip);
  const listing = spawnSync("/usr/bin/python3", ["-c",
    "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(sorted(z.namelist())))", zip],
  { encoding: "utf8" });
  assert.equal(listing.status, 0, listing.stderr);
  const names = listing.stdout.trim().split("\n");
  const expected = ["cfg/", "cfg/deep/", "cfg/deep/legacy.cfg", "cfg/renamed/", "cfg/renamed/server.cfg",
    ...Object.keys(want).filter((r) => r.startsWith("cfg/")).map((r) => r)];
  for (const n of expected) assert.ok(names.includes(n), n + " in " + names.join(", "));
  const inside = spawnSync("/usr/bin/python3", ["-c",
    "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('cfg/deep/legacy.cfg'))", zip]);
  assert.equal(inside.stdout.toString("latin1"), "// caf\xe9 config\r\nsv_alltalk 0\r\nsv_pure 1\r\n");

  // Delete a file (no question), then a folder (after one).
  await settled();
  await row("pack/banner.bin").locator("button", { hasText: "delete" }).click();
  await page.waitForSelector('#files-tree li[data-path="pack/banner.bin"]', { state: "detached" });
  assert.equal(fs.existsSync(tree("cfg", "pack/banner.bin")), false);
  // The tree listing the open folders again after that delete must be over
  // first: a folder deleted while its listing is on the way answers 404.
  await settled();
  let asked = null;
  page.once("dialog", (d) => { asked = d.message(); d.accept(); });
  await row("pack/cfg").locator("button", { hasText: "delete" }).click();
  await page.waitForSelector('#files-tree li[data-path="pack/cfg"]', { state: "detached" });
  assert.match(asked, /Delete the folder pack\/cfg and everything in it/);
  assert.equal(fs.existsSync(tree("cfg", "pack/cfg")), false);
  assert.ok(fs.existsSync(tree("cfg", "pack/maps/m12.txt")));
  await shot("05-deleted");

  // Build now publishes the edits: the page then says nothing is pending,
  // and the file manager in the refreshed view works as before.
  await page.click("button:has-text('Build now')");
  await page.waitForURL(/notice=queued/);
  await page.waitForSelector("#job-state.job-succeeded", { timeout: 60000 });
  // A page shown while the build ran puts a fresh view in when it ends
  // (app.js), and files.js starts again on it; one shown after it ended
  // (a fast build) is fresh already.
  await page.waitForFunction(() => document.body.dataset.overlayRefreshed === "1" ||
    !document.querySelector("pre[data-overlay-refresh]"), null, { timeout: 30000 });
  await page.waitForSelector("#files[data-ready='1'] #files-tree li.top[aria-expanded=true]");
  assert.equal(await page.isVisible("#files-pending"), false);
  assert.ok(fs.existsSync(path.join(panel.state, "overlays", "u1-cfg", "pack", "maps", "m12.txt")));
  // The pickers, for browsers without drag and drop (and here because
  // Chromium takes one protocol drop per page): a folder through "Upload a
  // folder" (webkitdirectory: each file with its path below the folder).
  const late = path.join(work, "late");
  fs.mkdirSync(path.join(late, "sub"), { recursive: true });
  fs.writeFileSync(path.join(late, "a.cfg"), "sv_late 1\n");
  fs.writeFileSync(path.join(late, "sub", "b.cfg"), "sv_late 2\n");
  await page.setInputFiles("#files-pick-folder", late);
  await page.waitForSelector("#upload-summary >> text=2 of 2 uploaded.");
  assert.equal(fs.readFileSync(tree("cfg", "late/a.cfg"), "utf8"), "sv_late 1\n");
  assert.equal(fs.readFileSync(tree("cfg", "late/sub/b.cfg"), "utf8"), "sv_late 2\n");
  assert.equal(await page.isVisible("#files-pending"), true);
  // ... and files through "Upload files", into the folder last opened.
  await page.click('#files-tree li[data-path="late"] > .row button.name');
  await page.setInputFiles("#files-pick", [path.join(late, "a.cfg")]);
  await page.waitForSelector("#upload-summary >> text=3 of 3 uploaded.");
  assert.equal(fs.readFileSync(tree("cfg", "late/a.cfg"), "utf8"), "sv_late 1\n");

  // A phone-sized screen: the tree stays usable.
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("06-phone");
  await page.setViewportSize({ width: 1100, height: 900 });
  assert.deepEqual(consoleErrors, []);
});

test("a script overlay built from the panel, its log streaming", { timeout: 180000 }, async () => {
  await createOverlay("sm", "script");
  await page.waitForSelector("#f-script");
  // Lines spaced out, so the log is seen growing while the build runs.
  const script = [
    "#!/bin/bash",
    "set -euo pipefail",
    "for i in 1 2 3 4 5 6; do echo \"step $i of 6\"; sleep 0.7; done",
    "mkdir -p left4dead2/addons",
    "echo built > left4dead2/addons/marker.txt",
    "echo done building",
  ].join("\n") + "\n";
  await page.fill("#f-script", script);
  await page.click("button[name=build][value='1']");
  await page.waitForURL(/notice=queued/);
  // A line arrives while the job is still running: it streams.
  await page.waitForSelector("#job-log >> text=step 1 of 6", { timeout: 60000 });
  const stateThen = await page.textContent("#job-state");
  assert.match(stateThen, /queued|running/);
  await shot("07-script-building");
  await page.waitForSelector("#job-state.job-succeeded", { timeout: 90000 });
  const log = await page.textContent("#job-log");
  assert.match(log, /step 6 of 6/);
  assert.match(log, /done building/);
  // The page then shows the last build's outcome and duration.
  await page.waitForFunction(() => document.body.dataset.overlayRefreshed === "1");
  assert.match(await page.textContent("#overlay-last-build"), /\d+\.\d s: new content published/);
  assert.match(await page.textContent("#script-state"), /version 1.*The host has this version/);
  assert.equal(fs.readFileSync(path.join(panel.state, "overlays", "u1-sm", "left4dead2/addons/marker.txt"), "utf8"), "built\n");
  await shot("08-script-built");
  assert.deepEqual(consoleErrors, []);
});
