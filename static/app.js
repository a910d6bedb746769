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

  // A server's console. Every (re)connection replays the recent lines, so
  // the view is cleared on open; EventSource reconnects by itself.
  function serverLog(pre) {
    const es = new EventSource(pre.dataset.sseLog);
    es.onopen = function () {
      pre.textContent = "";
      setText("console-state", "Live.");
    };
    es.onmessage = function (ev) { appendLine(pre, ev.data); };
    es.addEventListener("end", function (ev) {
      setText("console-state", "The log stream ended (" + ev.data + "); reconnecting…");
    });
    es.onerror = function () { setText("console-state", "Disconnected; reconnecting…"); };
  }

  // A job: lines, progress, and the final state; resumes after the last
  // line it saw (Last-Event-ID) when the connection drops.
  function jobLog(pre) {
    const es = new EventSource(pre.dataset.sseJob);
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
      const d = JSON.parse(ev.data);
      const state = document.getElementById("job-state");
      if (state) {
        state.textContent = d.state;
        state.className = "badge job-" + d.state;
      }
      setText("job-result", d.result);
      if (d.state === "succeeded") {
        const bar = document.getElementById("job-progress");
        if (bar) { bar.value = 100; setText("job-progress-text", "100.0%"); }
      }
      es.close();
    });
  }

  // Buttons that destroy something ask first.
  document.addEventListener("submit", function (ev) {
    const b = ev.target.querySelector("button.danger");
    if (b && !window.confirm(b.textContent.trim() + "? This cannot be undone.")) ev.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-sse-log]").forEach(serverLog);
    document.querySelectorAll("[data-sse-job]").forEach(jobLog);
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
