// Starts `left4me serve` on a fresh state dir for a browser test, with the
// real l4d2ctl, the supervisor backend and the fake steamcmd.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
const build = process.env.LEFT4ME_BUILD_DIR || path.join(root, "build-test");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

// opts.env: more environment for the panel and the l4d2ctl it runs.
export async function startPanel(opts = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "left4me-browser-"));
  // l4d2ctl runs the game servers as an unprivileged user (nobody here),
  // which must be able to reach its tree below the state dir.
  fs.chmodSync(tmp, 0o711);
  const state = path.join(tmp, "state"), etc = path.join(tmp, "etc");
  fs.mkdirSync(state);
  fs.mkdirSync(etc);
  fs.writeFileSync(path.join(etc, "host.env"), "LEFT4ME_PORT_RANGE_START=23900\nLEFT4ME_PORT_RANGE_END=23939\n");
  const port = await freePort();
  const ctl = path.join(build, "src/ctl/l4d2ctl");
  const env = {
    ...process.env,
    LEFT4ME_CONFIG_DIR: etc,
    LEFT4ME_STEAMCMD: path.join(root, "tests/fakes/steamcmd"),
    LEFT4ME_BACKEND: "supervisor",
    LEFT4ME_UPDATE_FREE_MIN: "256M", // the fake game is a few MiB (tests/integration/conftest.py)
    LEFT4ME_L4D2CTL: ctl,
    LEFT4ME_POLL_INTERVAL_MS: "500",
    ...(opts.env || {}),
  };
  delete env.LEFT4ME_STATE_DIR;
  const proc = spawn(path.join(build, "src/web/left4me"),
    ["serve", "--state-dir", state, "--listen", `127.0.0.1:${port}`], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const password = await new Promise((resolve, reject) => {
    let pw = null;
    const timer = setTimeout(() => reject(new Error("left4me did not start:\n" + output)), 30000);
    const onData = (d) => {
      output += d.toString();
      const m = output.match(/created the administrator 'admin' with password (\S+)/);
      if (m) pw = m[1];
      if (output.includes("listening on")) {
        clearTimeout(timer);
        resolve(pw);
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("exit", (code) => reject(new Error(`left4me exited ${code}:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    password,
    output: () => output,
    async stop() {
      const list = spawnSync(ctl, ["--state-dir", state, "list", "--json"], { env, encoding: "utf8" });
      try {
        for (const i of JSON.parse(list.stdout).instances) spawnSync(ctl, ["--state-dir", state, "stop", i.name], { env });
      } catch { /* nothing to stop */ }
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on("exit", r)));
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-dev-shm-usage"],
  });
}
