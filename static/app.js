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
