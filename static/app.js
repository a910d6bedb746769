// left4me panel: live logs and job progress over server-sent events. Every
// value from the server goes into the page as text (textContent), never HTML.
"use strict";

(function () {
  const MAX_LINES = 2000;

  function appendLine(pre, text) {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(text + "\n"));
    while (pre.childNodes.length > MAX_LINES) pre.removeChild(pre.firstChild);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  // ---- Being logged out elsewhere (a password change, an administrator):
  // the live parts stop and say so, with a way back in. ----
  let loggedOut = false;
  const streams = new Set();

  function showLoggedOut() {
    if (loggedOut) return;
    loggedOut = true;
    streams.forEach(function (es) { es.close(); });
    const main = document.querySelector("main");
    if (!main) return;
    const p = document.createElement("p");
    p.className = "error";
    p.id = "logged-out";
    p.setAttribute("role", "alert");
    p.appendChild(document.createTextNode("You were logged out: what this page shows no longer updates. "));
    const a = document.createElement("a");
    a.href = "/login?notice=ended";
    a.textContent = "Log in again";
    p.appendChild(a);
    main.insertBefore(p, main.firstChild);
    setText("console-state", "You were logged out.");
  }

  // An event stream does not say why it failed: ask a small page whether
  // the session is still there (401: it is not).
  let checking = false;
  function checkSession() {
    if (checking || loggedOut) return;
    checking = true;
    fetch("/profile", { headers: { "HX-Request": "true" }, credentials: "same-origin", redirect: "manual" })
      .then(function (r) { if (r.status === 401) showLoggedOut(); })
      .catch(function () {})
      .then(function () { checking = false; });
  }

  function openStream(url) {
    const es = new EventSource(url);
    streams.add(es);
    es.addEventListener("error", function () {
      if (es.readyState === EventSource.CLOSED) streams.delete(es);
      checkSession();
    });
    return es;
  }

  document.addEventListener("htmx:responseError", function (ev) {
    if (ev.detail.xhr && ev.detail.xhr.status === 401) showLoggedOut();
  });
  document.addEventListener("htmx:beforeRequest", function (ev) {
    if (loggedOut) ev.preventDefault();
  });

  // ---- A server's console. It follows the server's state, which the
  // status section (refreshed by htmx) carries in data-state: a server that
  // never ran has no console yet, and one that starts is attached at once.
  // Every (re)connection replays the recent lines, so the view is cleared
  // on open. ----
  const CONSOLE_WORDS = {
    new: "Not started yet: its console shows here once it runs.",
    starting: "Starting: its lines show here as it writes them.",
    running: "Live: new lines show as the server writes them.",
    unresponsive: "Live, but the server does not answer players at the moment.",
    stopped: "Stopped: these are the last lines it wrote.",
    crashed: "Crashed: these are the last lines it wrote.",
    absent: "Missing on the host: start it to set it up again.",
    deleting: "Being deleted.",
  };

  function serverState() {
    const s = document.getElementById("status");
    return (s && s.dataset.state) || "new";
  }

  function serverLog(pre) {
    let es = null, lines = 0, lost = false;

    function say() {
      if (loggedOut) return;
      const state = serverState();
      let words = lost ? "Connection to the panel lost; reconnecting…" : CONSOLE_WORDS[state] || state;
      if (!lost && lines === 0 && (state === "stopped" || state === "crashed"))
        words = "Stopped: it has written nothing yet. Its console shows here once it runs.";
      setText("console-state", words);
    }

    function open() {
      if (es || loggedOut || serverState() === "new" || serverState() === "deleting") return;
      es = openStream(pre.dataset.sseLog);
      es.onopen = function () {
        pre.textContent = "";
        lines = 0;
        lost = false;
        say();
      };
      es.onmessage = function (ev) {
        appendLine(pre, ev.data);
        if (++lines === 1) say();
      };
      es.addEventListener("end", function () {
        // l4d2ctl logs ended (the instance went away): open again when
        // the state says there is something to follow.
        es.close();
        streams.delete(es);
        es = null;
        say();
        setTimeout(open, 3000);
      });
      es.addEventListener("error", function () {
        if (es && es.readyState === EventSource.CLOSED) {
          es = null;
          setTimeout(open, 5000);
        } else lost = true;
        say();
      });
    }

    document.addEventListener("htmx:afterSettle", function (ev) {
      if (ev.target && ev.target.id === "status") {
        open();
        say();
      }
    });
    open();
    if (!es) say();
  }

  // ---- A job: lines, progress, and the final state; resumes after the
  // last line it saw (Last-Event-ID) when the connection drops. ----
  function finishJob(d) {
    const state = document.getElementById("job-state");
    if (state) {
      state.textContent = d.state;
      state.className = "badge job-" + d.state;
    }
    setText("job-result", d.result);
    const bar = document.getElementById("job-progress");
    const box = bar && bar.closest(".progress");
    if (d.state === "succeeded" && bar) {
      bar.value = 100;
      setText("job-progress-text", "100.0%");
    }
    if (d.state === "failed") {
      if (box) box.classList.add("failed");
      const result = document.getElementById("job-result");
      if (result) result.classList.add("failed-text");
      setText("job-progress-label", "Failed");
      const retry = document.getElementById("job-retry");
      if (retry) retry.hidden = false;
    }
  }

  function jobLog(pre) {
    const es = openStream(pre.dataset.sseJob);
    es.addEventListener("line", function (ev) { appendLine(pre, ev.data); });
    es.addEventListener("progress", function (ev) {
      const p = JSON.parse(ev.data);
      const bar = document.getElementById("job-progress");
      if (bar) bar.value = p.percent;
      setText("job-progress-text", p.percent.toFixed(1) + "%");
      setText("job-progress-label", p.label);
      const state = document.getElementById("job-state");
      if (state && state.textContent === "queued") {
        state.textContent = "running";
        state.className = "badge job-running";
      }
    });
    es.addEventListener("done", function (ev) {
      finishJob(JSON.parse(ev.data));
      es.close();
      streams.delete(es);
    });
  }

  // A notice that follows its job to the end ("Deleting Alpha…").
  function followJob(el) {
    const es = openStream(el.dataset.followJob);
    es.addEventListener("done", function (ev) {
      const d = JSON.parse(ev.data);
      const text = el.querySelector(".text");
      if (d.state === "succeeded") {
        if (text) text.textContent = el.dataset.doneText || d.result;
      } else {
        el.classList.add("error");
        if (text) text.textContent = (el.dataset.failText || "Failed: ") + d.result;
      }
      es.close();
      streams.delete(es);
    });
  }

  // ---- Buttons that destroy or change something for someone ask first,
  // in their own words (data-confirm). ----
  document.addEventListener("submit", function (ev) {
    const b = ev.submitter || ev.target.querySelector("button");
    if (!b) return;
    const q = b.dataset.confirm || (b.classList.contains("danger") ? b.textContent.trim() + "? This cannot be undone." : "");
    if (q && !window.confirm(q)) ev.preventDefault();
  });

  // ---- Copy buttons (the connect command, a new password). ----
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      const ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      const ok = document.execCommand("copy");
      ta.remove();
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }
  document.addEventListener("click", function (ev) {
    const b = ev.target.closest && ev.target.closest("button[data-copy]");
    if (!b) return;
    const label = b.textContent;
    copyText(b.dataset.copy).then(
      function () { b.textContent = "Copied"; },
      function () { b.textContent = "Select it and copy"; });
    setTimeout(function () { b.textContent = label; }, 2000);
  });

  // ---- Times in the browser's own time zone. ----
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      const d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      t.title = t.textContent;
      t.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      });
    });
  }
  document.addEventListener("htmx:afterSettle", function (ev) { localTimes(ev.target); });

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    document.querySelectorAll("[data-sse-log]").forEach(serverLog);
    document.querySelectorAll("[data-sse-job]").forEach(jobLog);
    document.querySelectorAll("[data-follow-job]").forEach(followJob);
  });
})();

// ---- Overlays (overlays-web): the blueprint's overlay picker and the
// overlay page. Values go into the page as text or attribute values set
// through the DOM, never as HTML.
(function () {
  // The picker (page-overlays-picker.c): a list of entries, each with its
  // hidden input "overlays" (the form posts them in list order) and its
  // buttons. Without this script the buttons post the form and the panel
  // answers with the list changed; here they change it in place.
  function picker(root) {
    const list = root.querySelector("#overlays-picked");
    const select = root.querySelector("#f-overlay-add");
    const byName = root.querySelector("#f-overlay-add-name");
    const said = root.querySelector("#overlays-said");
    if (!list) return;

    const entries = () => Array.from(list.querySelectorAll("li.pick"));
    const labelOf = (li) => li.querySelector(".pick-name").textContent;
    const say = (text) => { if (said) said.textContent = text; };

    function renumber() {
      const all = entries();
      all.forEach((li, i) => {
        li.querySelectorAll("button[name=pick]").forEach((b) => {
          const op = b.value.split(":")[0];
          b.value = op + ":" + i;
          if (op === "up") b.disabled = i === 0;
          if (op === "down") b.disabled = i === all.length - 1;
        });
      });
      const none = document.getElementById("overlays-none");
      if (none) none.hidden = all.length > 0;
    }

    function moved(li) {
      const all = entries();
      say(labelOf(li) + ": position " + (all.indexOf(li) + 1) + " of " + all.length);
    }

    function button(op, text, aria) {
      const b = document.createElement("button");
      b.type = "submit";
      b.className = "small";
      b.name = "pick";
      b.value = op + ":0";
      b.textContent = text;
      b.setAttribute("aria-label", aria);
      return b;
    }

    function entry(name, label, about) {
      const li = document.createElement("li");
      li.className = "pick";
      li.dataset.name = name;
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "overlays";
      input.value = name;
      const grip = document.createElement("span");
      grip.className = "grip";
      grip.title = "Drag to reorder";
      grip.setAttribute("aria-hidden", "true");
      grip.textContent = "\u283f";
      const nm = document.createElement("span");
      nm.className = "pick-name";
      nm.textContent = label;
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = about;
      const buttons = document.createElement("span");
      buttons.className = "pick-buttons";
      buttons.append(button("up", "\u2191", "Move up: " + label), button("down", "\u2193", "Move down: " + label),
        button("remove", "\u2715", "Remove: " + label));
      li.append(input, grip, " ", nm, " ", hint, " ", buttons);
      return li;
    }

    function offer(name, show) {
      if (!select) return;
      for (const o of select.options) {
        if (o.value === name) { o.hidden = !show; o.disabled = !show; }
      }
      if (!show || select.selectedOptions.length === 0 || select.selectedOptions[0].disabled) {
        const first = Array.from(select.options).find((o) => !o.disabled);
        if (first) select.value = first.value;
        else select.selectedIndex = -1;
      }
      const add = root.querySelector("button[name=pick][value=add]");
      if (add) add.disabled = !Array.from(select.options).some((o) => !o.disabled);
    }

    root.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[name=pick]");
      if (!b || !root.contains(b)) return;
      ev.preventDefault();
      const [op] = b.value.split(":");
      const li = b.closest("li.pick");
      if (op === "up" && li && li.previousElementSibling) {
        list.insertBefore(li, li.previousElementSibling);
      } else if (op === "down" && li && li.nextElementSibling) {
        list.insertBefore(li.nextElementSibling, li);
      } else if (op === "remove" && li) {
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        offer(li.dataset.name, true);
        renumber();
        say("Removed " + labelOf(li));
        const focus = next && next.querySelector("button[value^=remove]");
        if (focus) focus.focus();
        return;
      } else if (op === "add" && select && select.value) {
        const o = select.selectedOptions[0];
        if (!o || o.disabled) return;
        list.append(entry(o.value, o.dataset.label || o.value, o.dataset.about || ""));
        offer(o.value, false);
      } else if (op === "add-name" && byName && byName.value.trim()) {
        const name = byName.value.trim();
        if (entries().some((e) => e.dataset.name === name)) return;
        list.append(entry(name, name, "by host name"));
        byName.value = "";
      } else {
        return;
      }
      renumber();
      const target = op.startsWith("add") ? list.lastElementChild : li;
      moved(target);
      // Keep the keyboard where it was: on the same button of the entry.
      if (!op.startsWith("add")) {
        const same = target.querySelector("button[value^=" + op + "]");
        if (same && !same.disabled) same.focus();
      }
    });

    // Dragging by the handle, with pointer events (mouse, pen and touch):
    // the entry goes before or after the one under the pointer. The moves
    // are followed on the document: moving the entry in the list ends any
    // pointer capture on its handle.
    list.addEventListener("pointerdown", (ev) => {
      const grip = ev.target.closest(".grip");
      if (!grip || ev.button > 0) return;
      const li = grip.closest("li.pick");
      ev.preventDefault();
      li.classList.add("dragging");
      const move = (e) => {
        const over = document.elementFromPoint(e.clientX, e.clientY);
        const target = over && over.closest("li.pick");
        if (!target || target === li || target.parentNode !== list) return;
        const r = target.getBoundingClientRect();
        const before = e.clientY < r.top + r.height / 2 ? target : target.nextSibling;
        if (before !== li && before !== li.nextSibling) list.insertBefore(li, before);
      };
      const end = () => {
        document.removeEventListener("pointermove", move);
        document.removeEventListener("pointerup", end);
        document.removeEventListener("pointercancel", end);
        li.classList.remove("dragging");
        renumber();
        moved(li);
      };
      document.addEventListener("pointermove", move);
      document.addEventListener("pointerup", end);
      document.addEventListener("pointercancel", end);
    });
    renumber();
  }

  // The overlay page: when its build job ends (app.js's job stream sets
  // #job-state), the facts and the kind's view are fetched again.
  function overlayPage(log) {
    const state = document.getElementById("job-state");
    if (!state) return;
    const watch = new MutationObserver(() => {
      if (!/^(succeeded|failed)$/.test(state.textContent)) return;
      watch.disconnect();
      fetch(window.location.pathname, { credentials: "same-origin" })
        .then((r) => r.text())
        .then((html) => {
          const fresh = new DOMParser().parseFromString(html, "text/html");
          ["overlay-facts", "overlay-view"].forEach((id) => {
            const now = document.getElementById(id), next = fresh.getElementById(id);
            if (!now || !next) return;
            const node = document.importNode(next, true);
            now.replaceWith(node);
            if (window.htmx) window.htmx.process(node);
          });
          document.body.dataset.overlayRefreshed = "1";
        });
    });
    watch.observe(state, { childList: true, characterData: true, subtree: true });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const p = document.getElementById("overlay-picker");
    if (p) picker(p);
    const log = document.querySelector("pre[data-overlay-refresh]");
    if (log) overlayPage(log);
  });
})();

// ---- Script overlays (files-web): the build script's form
// (page-overlay-script.c). A script may be longer than a form body may be,
// so it goes as a streamed body, form-encoded, with the CSRF token in its
// header; the panel answers JSON. "Save and build" then shows the page
// again, where the build's log streams.
(function () {
  document.addEventListener("submit", async function (ev) {
    const form = ev.target;
    if (!form || form.id !== "script-form") return;
    ev.preventDefault();
    const build = ev.submitter && ev.submitter.value === "1";
    const said = form.querySelector("#script-said");
    const err = form.querySelector("#e-script");
    const buttons = form.querySelectorAll("button");
    let token = "";
    try { token = JSON.parse(document.body.dataset.hxHeaders || "{}")["X-CSRF-Token"] || ""; } catch (e) { /* none */ }
    const body = new URLSearchParams({ script: form.querySelector("#f-script").value, build: build ? "1" : "0" });
    buttons.forEach((b) => { b.disabled = true; });
    err.hidden = true;
    said.textContent = build ? "Saving and queueing the build…" : "Saving…";
    try {
      const r = await fetch(form.action, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRF-Token": token, Accept: "application/json" },
      });
      let j = {};
      try { j = await r.json(); } catch (e) { /* not JSON */ }
      if (!r.ok) {
        err.textContent = j.error || "The panel answered " + r.status + ".";
        err.hidden = false;
        said.textContent = "";
        return;
      }
      if (j.location) {
        window.location.assign(j.location);
        return;
      }
      said.textContent = "Saved (version " + j.version + ")." +
        (j.handed_over ? " The host has it." : " The host did not take it yet (" + (j.host_error || "no answer") +
          "); it is handed over at the next build.") + (j.build_error ? " " + j.build_error : "");
    } catch (e) {
      err.textContent = "The panel could not be reached: " + e.message;
      err.hidden = false;
      said.textContent = "";
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
})();

// ---- The RCON console (issue 11): htmx appends each answer to the
// transcript; this keeps the transcript scrolled to the newest entry,
// empties the input after a command went out, and recalls earlier commands
// with the up and down arrows (from the entries' data-command, so the
// history the page replayed counts too).
(function () {
  function transcript() { return document.getElementById("rcon-transcript"); }
  function commands() {
    const t = transcript();
    if (!t) return [];
    return Array.prototype.map.call(t.querySelectorAll(".rcon-entry[data-command]"),
      function (e) { return e.dataset.command; }).filter(function (c) { return c !== ""; });
  }
  function toBottom() {
    const t = transcript();
    if (t) t.scrollTop = t.scrollHeight;
  }
  let pos = -1, draft = "";
  document.addEventListener("keydown", function (ev) {
    const input = ev.target;
    if (!input || input.id !== "rcon-command" || (ev.key !== "ArrowUp" && ev.key !== "ArrowDown")) return;
    const list = commands();
    if (!list.length) return;
    ev.preventDefault();
    if (pos === -1) draft = input.value;
    if (ev.key === "ArrowUp") pos = pos === -1 ? list.length - 1 : Math.max(0, pos - 1);
    else pos = pos === -1 ? -1 : pos + 1;
    if (pos >= list.length) pos = -1;
    input.value = pos === -1 ? draft : list[pos];
    input.setSelectionRange(input.value.length, input.value.length);
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    const form = ev.detail && ev.detail.elt;
    if (!form || !form.classList || !form.classList.contains("rcon-form")) return;
    const input = document.getElementById("rcon-command");
    if (input && ev.detail.successful) input.value = "";
    pos = -1;
  });
  document.addEventListener("htmx:afterSwap", function (ev) {
    if (ev.detail && ev.detail.target && ev.detail.target.id === "rcon-transcript") toBottom();
  });
  document.addEventListener("DOMContentLoaded", toBottom);
})();
