// left4me: the file manager of a files overlay (page-overlay-files.c): a
// folder tree loaded folder by folder, uploads by drag and drop or picker
// (a queue, 3 at a time, each file its own request and progress bar), moves
// by dragging inside the tree, one editor dialog (create, edit text with its
// encoding kept, rename or move, replace by upload, delete), folders made
// with their parents, downloads of a file or a folder as a zip.
//
// Every name from the server goes into the page as text (textContent) or an
// attribute set through the DOM, never as HTML. Paths travel as the user's
// bytes: encodeURIComponent in a query, URLSearchParams in a form; the host
// decides what a path may be and says why not.
"use strict";

(function () {
  const UPLOADS_AT_ONCE = 3;
  const RETRIES = 2;           // a file whose request failed (network, 5xx) is sent again this often
  const TEXT_MAX = 2 << 20;    // bytes the editor edits as text; bigger files are replaced by upload

  // ---- small helpers ----

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, "");
      else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function sizeText(n) {
    if (n < 1024) return n + " B";
    if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1 << 30) return (n / (1 << 20)).toFixed(1) + " MiB";
    return (n / (1 << 30)).toFixed(2) + " GiB";
  }

  const join = (dir, name) => (dir ? dir + "/" + name : name);
  const parentOf = (p) => (p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "");
  const baseOf = (p) => p.slice(p.lastIndexOf("/") + 1);

  function csrfToken() {
    try {
      return JSON.parse(document.body.dataset.hxHeaders || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  // What the panel said, as one line: its JSON error, else the status.
  async function errorOf(resp) {
    try {
      const j = await resp.json();
      if (j && j.error) return j.error;
    } catch (e) { /* not JSON */ }
    return "the panel answered " + resp.status;
  }

  // ---- text with its encoding: bytes in, bytes out ----
  //
  // A file is edited as text only when decoding it and encoding the text
  // again gives back the very same bytes (BOM, encoding, line ends): then
  // saving it unchanged changes nothing, and saving it edited changes only
  // what was edited. Anything else (binary, mixed line ends, bytes that
  // are no text) is replaced by upload instead.

  const CP1252 = [0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152,
    0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
    0x153, 0x9d, 0x17e, 0x178];

  function encodeAs(encoding, text) {
    if (encoding === "utf-8") return new TextEncoder().encode(text);
    if (encoding === "utf-16le" || encoding === "utf-16be") {
      const out = new Uint8Array(text.length * 2);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        const hi = c >> 8, lo = c & 0xff;
        out[2 * i] = encoding === "utf-16le" ? lo : hi;
        out[2 * i + 1] = encoding === "utf-16le" ? hi : lo;
      }
      return out;
    }
    // windows-1252
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let b = c < 0x80 || (c >= 0xa0 && c <= 0xff) ? c : CP1252.indexOf(c) + 0x80;
      if (b < 0 || b === 0x7f) throw new Error("'" + text[i] + "' cannot be written in windows-1252, this file's encoding");
      out[i] = b;
    }
    return out;
  }

  function sameBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // {text, encoding, bom, crlf} or null when it is not text we can keep.
  function asText(bytes) {
    if (bytes.length > TEXT_MAX) return null;
    let bom = new Uint8Array(0), encoding = "utf-8";
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bom = bytes.slice(0, 3);
    else if (bytes[0] === 0xff && bytes[1] === 0xfe) { bom = bytes.slice(0, 2); encoding = "utf-16le"; }
    else if (bytes[0] === 0xfe && bytes[1] === 0xff) { bom = bytes.slice(0, 2); encoding = "utf-16be"; }
    const body = bytes.subarray(bom.length);
    let text = null;
    const tries = encoding === "utf-8" ? ["utf-8", "windows-1252"] : [encoding];
    for (const enc of tries) {
      try {
        text = new TextDecoder(enc, { fatal: true, ignoreBOM: true }).decode(body);
        encoding = enc;
        break;
      } catch (e) { text = null; }
    }
    if (text === null) return null;
    // Control characters other than tab, line ends and form feed: binary.
    if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f]/.test(text)) return null;
    const crlf = text.includes("\r\n");
    const lf = text.replace(/\r\n/g, "\n");
    if (lf.includes("\r") || (crlf && /(^|[^\r])\n/.test(text))) return null; // mixed line ends
    let again;
    try {
      again = encodeAs(encoding, crlf ? lf.replace(/\n/g, "\r\n") : lf);
    } catch (e) {
      return null;
    }
    const whole = new Uint8Array(bom.length + again.length);
    whole.set(bom);
    whole.set(again, bom.length);
    if (!sameBytes(whole, bytes)) return null;
    return { text: lf, encoding, bom, crlf };
  }

  function textBytes(t, value) {
    const body = encodeAs(t.encoding, t.crlf ? value.replace(/\n/g, "\r\n") : value);
    const whole = new Uint8Array(t.bom.length + body.length);
    whole.set(t.bom);
    whole.set(body, t.bom.length);
    return whole;
  }

  function encodingLabel(t) {
    return (t.encoding === "utf-8" ? "UTF-8" : t.encoding === "windows-1252" ? "Windows-1252" : t.encoding.toUpperCase()) +
      (t.bom.length ? " with BOM" : "") + ", " + (t.crlf ? "CRLF" : "LF") + " line ends";
  }

  // ---- the file manager of one #files section ----

  function FileManager(root) {
    const base = root.dataset.files;
    const writable = root.dataset.writable === "1";
    const maxFile = Number(root.dataset.maxFile) || 0;
    const overlayName = root.dataset.name || "overlay";
    const expanded = new Set([""]);
    let target = ""; // the folder the toolbar's buttons act on

    const said = el("p", { class: "files-said", id: "files-said", role: "status", "aria-live": "polite" });
    const say = (text) => { said.textContent = text; };
    const pending = document.getElementById("files-pending");
    const changed = () => { if (pending) pending.hidden = false; };

    async function post(verb, fields) {
      const body = new URLSearchParams(fields);
      const r = await fetch(base + "/" + verb, {
        method: "POST", credentials: "same-origin", body,
        headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      });
      if (!r.ok) throw new Error(await errorOf(r));
      changed();
      return r.json();
    }

    async function list(path) {
      const r = await fetch(base + "/ls?path=" + encodeURIComponent(path), {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!r.ok) throw new Error(await errorOf(r));
      return r.json();
    }

    // ---- the tree ----

    const tree = el("ul", { class: "tree", role: "tree", id: "files-tree", "aria-label": "Files of " + overlayName });

    function actionButton(label, aria, fn) {
      return el("button", { type: "button", class: "link files-act", "aria-label": aria, title: aria,
        text: label, onclick: (ev) => { ev.stopPropagation(); fn(); } });
    }

    function node(path, entry) {
      const folder = entry.type === "folder";
      const li = el("li", { role: "treeitem", class: folder ? "folder" : entry.type === "file" ? "file" : "other",
        dataset: { path, type: entry.type } });
      const label = path === "" ? overlayName : path;
      const name = entry.type === "other" ? el("span", { class: "name", text: entry.name })
        : el("button", { type: "button", class: "link name", text: path === "" ? overlayName : entry.name,
          title: folder ? "Open " + label : "Open " + label + " in the editor",
          onclick: (ev) => {
            ev.stopPropagation();
            if (folder) { target = path; markTarget(); toggle(li); }
            else editor.open(path, entry.size);
          } });
      const row = el("div", { class: "row", draggable: writable && path !== "" && entry.type !== "other" ? "true" : false });
      if (folder) {
        li.setAttribute("aria-expanded", expanded.has(path) ? "true" : "false");
        row.append(el("button", { type: "button", class: "twisty", "aria-label": "Open or close " + (entry.name || overlayName),
          text: expanded.has(path) ? "\u25be" : "\u25b8", onclick: (ev) => { ev.stopPropagation(); toggle(li); } }), name);
      } else {
        row.append(el("span", { class: "twisty", "aria-hidden": "true" }), name);
        if (entry.type === "file") row.append(el("span", { class: "size", text: sizeText(entry.size) }));
        else row.append(el("span", { class: "badge overlay-failed", text: entry.type + ": left out" }));
      }
      const acts = el("span", { class: "row-actions" });
      if (folder) {
        if (writable) {
          acts.append(actionButton("new file", "New file in " + label, () => editor.create(path)),
            actionButton("new folder", "New folder in " + label, () => editor.folder(path)),
            actionButton("upload", "Upload files into " + label, () => { target = path; pickFiles.click(); }));
        }
        acts.append(el("a", { class: "files-act", href: base + "/zip" + (path ? "?path=" + encodeURIComponent(path) : ""),
          download: "", text: "zip", title: "Download " + label + " as a zip", "aria-label": "Download " + label + " as a zip" }));
        if (writable && path !== "") {
          acts.append(actionButton("rename", "Rename or move " + label, () => editor.renameFolder(path)),
            actionButton("delete", "Delete " + label, () => removeFolder(path)));
        }
      } else if (entry.type === "file") {
        acts.append(el("a", { class: "files-act", href: base + "/get?path=" + encodeURIComponent(path), download: "",
          text: "download", title: "Download " + path, "aria-label": "Download " + path }));
        if (writable) acts.append(actionButton("delete", "Delete " + path, () => removeFile(path)));
      }
      row.append(acts);
      li.append(row);
      if (folder) li.append(el("ul", { role: "group" }));
      if (writable && entry.type !== "other") dragSource(row, path);
      return li;
    }

    function markTarget() {
      tree.querySelectorAll(".row.target").forEach((r) => r.classList.remove("target"));
      const li = findNode(target);
      if (li) li.querySelector(":scope > .row").classList.add("target");
      toolbarTarget.textContent = target ? target + "/" : overlayName + " (the top folder)";
    }

    function findNode(path) {
      for (const li of tree.querySelectorAll("li[data-path]")) if (li.dataset.path === path) return li;
      return null;
    }

    // Folders being loaded (and refreshes waiting): the tree is settled at
    // 0 (data-loading on the section, for people's eyes and for tests).
    let loading = 0;
    const busy = (d) => { loading += d; root.dataset.loading = String(loading); };

    async function fill(li) {
      busy(1);
      try {
        await fillNow(li);
      } finally {
        busy(-1);
      }
    }

    async function fillNow(li) {
      const path = li.dataset.path;
      const group = li.querySelector(":scope > ul");
      let j;
      try {
        j = await list(path);
      } catch (e) {
        group.replaceChildren(el("li", { class: "error-line", text: e.message }));
        return;
      }
      const entries = j.entries.slice().sort((a, b) =>
        (a.type === "folder" ? 0 : 1) - (b.type === "folder" ? 0 : 1) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const items = entries.map((e) => node(join(path, e.name), e));
      if (j.truncated) items.push(el("li", { class: "hint", text: "More entries than can be shown here." }));
      if (!items.length) items.push(el("li", { class: "hint empty", text: "empty" }));
      group.replaceChildren(...items);
      for (const child of items) if (child.dataset && child.dataset.type === "folder" && expanded.has(child.dataset.path)) fill(child);
    }

    function toggle(li) {
      const path = li.dataset.path;
      const open = li.getAttribute("aria-expanded") !== "true";
      li.setAttribute("aria-expanded", open ? "true" : "false");
      li.querySelector(":scope > .row .twisty").textContent = open ? "\u25be" : "\u25b8";
      if (open) { expanded.add(path); fill(li); }
      else { expanded.delete(path); li.querySelector(":scope > ul").replaceChildren(); }
    }

    // The folder path shows again what the host has (after a change in it).
    const refreshing = new Map();
    function refresh(path) {
      if (refreshing.has(path)) return refreshing.get(path);
      busy(1);
      const p = new Promise((resolve) => setTimeout(resolve, 150)).then(() => {
        refreshing.delete(path);
        let li = findNode(path);
        while (!li && path) { path = parentOf(path); li = findNode(path); }
        if (li && li.getAttribute("aria-expanded") === "true") return fill(li);
      }).finally(() => busy(-1));
      refreshing.set(path, p);
      return p;
    }

    // ---- moving by drag and drop inside the tree ----

    const MOVE_TYPE = "application/x-left4me-path";
    let dragging = null; // the path being dragged (dataTransfer hides it until the drop)

    function dragSource(row, path) {
      row.addEventListener("dragstart", (ev) => {
        dragging = path;
        ev.dataTransfer.setData(MOVE_TYPE, path);
        ev.dataTransfer.setData("text/plain", path);
        ev.dataTransfer.effectAllowed = "move";
        row.classList.add("dragging");
      });
      row.addEventListener("dragend", () => { dragging = null; row.classList.remove("dragging"); });
    }

    // A move of from into the folder to: refused when to is from or below
    // it (a folder into itself), a no-op into its own folder.
    function moveRefusal(from, to) {
      if (to === from || to.startsWith(from + "/")) return "A folder cannot go into itself.";
      if (parentOf(from) === to) return "It is in that folder already.";
      return null;
    }

    // Drops anywhere on the tree: onto a folder's row, into that folder;
    // onto a file's, into the folder it is in.
    function dropFolder(ev) {
      const li = ev.target.closest && ev.target.closest("li[data-path]");
      if (!li || !tree.contains(li)) return null;
      return li.dataset.type === "folder" ? li : li.parentElement.closest("li[data-path]");
    }

    function dropKind(ev) {
      const types = Array.from(ev.dataTransfer.types || []);
      if (types.includes(MOVE_TYPE)) return "move";
      if (types.includes("Files")) return "upload";
      return null;
    }

    let highlighted = null;
    function highlight(li) {
      const row = li && li.querySelector(":scope > .row");
      if (highlighted && highlighted !== row) highlighted.classList.remove("drop-here");
      if (row) row.classList.add("drop-here");
      highlighted = row;
    }

    if (writable) {
      tree.addEventListener("dragover", (ev) => {
        const k = dropKind(ev), li = dropFolder(ev);
        const why = k === "move" && li && dragging !== null ? moveRefusal(dragging, li.dataset.path) : null;
        if (!k || !li || why) {
          highlight(null);
          if (k) { ev.preventDefault(); ev.dataTransfer.dropEffect = "none"; }
          // Said while the pointer is there, since no drop will come.
          if (why === "A folder cannot go into itself." && said.textContent !== why) say(why);
          return;
        }
        ev.preventDefault();
        ev.dataTransfer.dropEffect = k === "move" ? "move" : "copy";
        highlight(li);
      });
      tree.addEventListener("dragleave", (ev) => { if (!tree.contains(ev.relatedTarget)) highlight(null); });
      tree.addEventListener("drop", (ev) => {
        highlight(null);
        const k = dropKind(ev), li = dropFolder(ev);
        ev.preventDefault();
        if (!k || !li) return;
        const path = li.dataset.path;
        if (k === "move") {
          const from = ev.dataTransfer.getData(MOVE_TYPE);
          const why = moveRefusal(from, path);
          if (why) { say(why); return; }
          move(from, join(path, baseOf(from))).catch((e) => say("Could not move " + from + ": " + e.message));
        } else {
          uploadDropped(ev.dataTransfer, path);
        }
      });
    }
    // Throws what the host said when it refused.
    async function move(from, to) {
      try {
        await post("mv", { from, to });
        if (expanded.has(from)) { expanded.delete(from); expanded.add(to); }
        say("Moved " + from + " to " + to + ".");
      } finally {
        await Promise.all([refresh(parentOf(from)), refresh(parentOf(to))]);
      }
    }

    // ---- deleting ----

    async function removeFile(path) {
      try {
        await post("rm", { path });
        say("Deleted " + path + ".");
      } catch (e) {
        say("Could not delete " + path + ": " + e.message);
      }
      await refresh(parentOf(path));
    }

    async function removeFolder(path) {
      if (!window.confirm("Delete the folder " + path + " and everything in it? This cannot be undone.")) return;
      try {
        await post("rm", { path, recursive: "1" });
        expanded.delete(path);
        say("Deleted the folder " + path + ".");
      } catch (e) {
        say("Could not delete " + path + ": " + e.message);
      }
      await refresh(parentOf(path));
    }

    // ---- uploads: a queue, UPLOADS_AT_ONCE at a time ----

    const queue = [];
    let active = 0;
    const uploadList = el("ul", { class: "uploads", id: "upload-list" });
    const uploadSummary = el("p", { id: "upload-summary", role: "status" });
    const uploadsPanel = el("section", { id: "uploads", class: "card", hidden: true, "aria-label": "Uploads" },
      el("h3", { text: "Uploads" }), uploadSummary,
      el("button", { type: "button", class: "small", text: "Clear finished", onclick: () => {
        for (const it of queue.filter((i) => i.state === "done")) { it.li.remove(); queue.splice(queue.indexOf(it), 1); }
        summarize();
      } }), uploadList);

    function summarize() {
      const n = (s) => queue.filter((i) => i.state === s).length;
      const done = n("done"), failed = n("failed"), left = n("waiting") + n("sending");
      uploadSummary.textContent = done + " of " + queue.length + " uploaded" + (failed ? ", " + failed + " failed" : "") +
        (left ? ", " + left + " to go" : "") + ".";
      uploadsPanel.dataset.busy = left ? "1" : "0";
    }

    function setState(it, state, text) {
      it.state = state;
      it.li.dataset.state = state;
      it.status.textContent = text;
      it.retry.hidden = state !== "failed" || it.final;
      it.cancel.hidden = state !== "waiting" && state !== "sending";
      summarize();
      if (state === "done" && it.then.done) it.then.done();
      if (state === "failed" && it.then.failed) it.then.failed(new Error(text));
    }

    // Queues file for path; then.done / then.failed (optional) are called
    // when it ends. Returns the queue's item.
    function enqueue(file, path, then) {
      const it = { file, path, then: then || {}, tries: 0, xhr: null };
      it.bar = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + path });
      it.status = el("span", { class: "upload-status" });
      it.retry = el("button", { type: "button", class: "small", text: "Retry", hidden: true,
        onclick: () => { it.tries = 0; setState(it, "waiting", "waiting"); pump(); } });
      it.cancel = el("button", { type: "button", class: "small link", text: "Cancel",
        onclick: () => { if (it.xhr) it.xhr.abort(); else setState(it, "failed", "cancelled"); } });
      it.li = el("li", { class: "upload", dataset: { path } }, el("span", { class: "upload-name", text: path }),
        " ", el("span", { class: "size", text: sizeText(file.size) }), " ", it.bar, " ", it.status, " ", it.retry, " ", it.cancel);
      queue.push(it);
      uploadList.append(it.li);
      uploadsPanel.hidden = false;
      if (maxFile > 0 && file.size > maxFile) {
        it.final = true;
        setState(it, "failed", "larger than the limit of " + sizeText(maxFile) + " a file");
        return it;
      }
      setState(it, "waiting", "waiting");
      pump();
      return it;
    }

    function pump() {
      while (active < UPLOADS_AT_ONCE) {
        const it = queue.find((i) => i.state === "waiting");
        if (!it) return;
        send(it);
      }
    }

    function send(it) {
      active++;
      it.tries++;
      setState(it, "sending", it.tries > 1 ? "sending again (" + it.tries + ")" : "sending");
      const xhr = new XMLHttpRequest();
      it.xhr = xhr;
      xhr.open("POST", base + "/put?path=" + encodeURIComponent(it.path) + "&size=" + it.file.size);
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable && ev.total) it.bar.value = (100 * ev.loaded) / ev.total;
      };
      const finish = (ok, message, again) => {
        active--;
        it.xhr = null;
        if (ok) {
          it.bar.value = 100;
          setState(it, "done", "done");
          changed();
          refresh(parentOf(it.path));
        } else if (again && it.tries <= RETRIES) {
          setState(it, "waiting", message + "; trying again");
          setTimeout(pump, 500 * it.tries);
        } else {
          // A refusal of the path or at a limit stays one: no Retry.
          it.final = !again && message !== "cancelled";
          setState(it, "failed", message);
        }
        pump();
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return finish(true);
        let msg = "the panel answered " + xhr.status;
        try { msg = JSON.parse(xhr.responseText).error || msg; } catch (e) { /* not JSON */ }
        // A refusal (4xx: the path, a limit) is final; the panel or the host
        // being busy or away (5xx) is worth another try.
        finish(false, msg, xhr.status >= 500);
      };
      xhr.onerror = () => finish(false, "the connection failed", true);
      xhr.onabort = () => finish(false, "cancelled", false);
      xhr.send(it.file);
    }

    // Files (and folders) dropped from the desktop onto the folder dest.
    // webkitGetAsEntry() has to be called while the drop event runs; the
    // folders are walked after.
    function uploadDropped(dt, dest) {
      const entries = [];
      for (const item of Array.from(dt.items || [])) {
        if (item.kind !== "file") continue;
        const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
        if (entry) entries.push(entry);
      }
      if (!entries.length) {
        // No entries API: files only, no folders.
        for (const f of Array.from(dt.files || [])) enqueue(f, join(dest, f.name));
        return;
      }
      walkEntries(entries, dest);
    }

    async function walkEntries(entries, dest) {
      const files = [], folders = [];
      const readAll = (reader) => new Promise((resolve, reject) => {
        const all = [];
        const next = () => reader.readEntries((batch) => {
          if (!batch.length) resolve(all);
          else { all.push(...batch); next(); }
        }, reject);
        next();
      });
      async function walk(entry, dir) {
        const path = join(dir, entry.name);
        if (entry.isFile) {
          const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
          files.push({ file, path });
        } else if (entry.isDirectory) {
          folders.push(path);
          for (const e of await readAll(entry.createReader())) await walk(e, path);
        }
      }
      try {
        for (const e of entries) await walk(e, dest);
      } catch (e) {
        say("Could not read what was dropped: " + e.message);
        return;
      }
      say("Uploading " + files.length + (files.length === 1 ? " file" : " files") + " into " + (dest || overlayName) + ".");
      // A put makes the folders on its way; empty folders are made here.
      const empty = folders.filter((f) => !files.some((x) => x.path.startsWith(f + "/")));
      for (const f of empty) {
        try { await post("mkdir", { path: f }); } catch (e) { say("Could not make the folder " + f + ": " + e.message); }
      }
      if (empty.length) refresh(dest);
      for (const f of files) enqueue(f.file, f.path);
      expandTo(dest);
    }

    function expandTo(path) {
      const li = findNode(path);
      if (li && li.getAttribute("aria-expanded") !== "true") toggle(li);
    }

    // The pickers, for browsers (and people) without drag and drop.
    const pickFiles = el("input", { type: "file", multiple: true, hidden: true, id: "files-pick" });
    const pickFolder = el("input", { type: "file", multiple: true, hidden: true, id: "files-pick-folder" });
    pickFolder.webkitdirectory = true;
    pickFiles.addEventListener("change", () => {
      for (const f of Array.from(pickFiles.files)) enqueue(f, join(target, f.name));
      expandTo(target);
      pickFiles.value = "";
    });
    pickFolder.addEventListener("change", () => {
      // webkitRelativePath: the chosen folder's name, then the path below it.
      for (const f of Array.from(pickFolder.files)) enqueue(f, join(target, f.webkitRelativePath || f.name));
      expandTo(target);
      pickFolder.value = "";
    });

    // ---- the editor dialog ----

    const editor = (function () {
      const title = el("h3", { id: "fe-title" });
      const pathInput = el("input", { type: "text", id: "fe-path", autocomplete: "off", spellcheck: "false" });
      const pathHint = el("p", { class: "hint", id: "fe-path-hint" });
      const content = el("textarea", { id: "fe-content", class: "code", rows: "18", spellcheck: "false", wrap: "off" });
      const encoding = el("span", { class: "hint", id: "fe-encoding" });
      const textPart = el("div", { class: "field", id: "fe-text" }, el("label", { for: "fe-content", text: "Content " }),
        encoding, content);
      const binaryAbout = el("p", { id: "fe-binary-about" });
      const replace = el("input", { type: "file", id: "fe-replace" });
      const binaryPart = el("div", { class: "field", id: "fe-binary" }, binaryAbout,
        el("label", { for: "fe-replace", text: "Replace it with a file from your computer" }), replace);
      const error = el("p", { class: "field-error", id: "fe-error", role: "alert", hidden: true });
      const save = el("button", { type: "submit", id: "fe-save", text: "Save" });
      const download = el("a", { class: "button", id: "fe-download", download: "", text: "Download" });
      const del = el("button", { type: "button", class: "danger", id: "fe-delete", text: "Delete" });
      const cancel = el("button", { type: "button", class: "link", id: "fe-cancel", text: "Close" });
      const form = el("form", { method: "dialog", id: "fe-form" }, title,
        el("div", { class: "field" }, el("label", { for: "fe-path", text: "Path" }), pathInput, pathHint),
        textPart, binaryPart, error, el("div", { class: "actions" }, save, download, del, cancel));
      const dialog = el("dialog", { id: "file-editor", "aria-labelledby": "fe-title" }, form);

      // What the dialog is doing: {mode: "create"|"text"|"binary"|"folder"|"rename-folder", path, text}
      let state = null;

      function show(mode, heading, path, hint) {
        state = { mode, path };
        title.textContent = heading;
        pathInput.value = path;
        pathInput.readOnly = !writable;
        pathHint.textContent = hint;
        error.hidden = true;
        textPart.hidden = mode !== "create" && mode !== "text";
        binaryPart.hidden = mode !== "binary";
        replace.value = "";
        replace.disabled = !writable;
        content.readOnly = !writable;
        save.hidden = !writable;
        del.hidden = !writable || mode === "create" || mode === "folder";
        download.hidden = mode !== "text" && mode !== "binary";
        if (!download.hidden) download.href = base + "/get?path=" + encodeURIComponent(path);
        if (!dialog.open) dialog.showModal();
      }

      function fail(text) {
        error.textContent = text;
        error.hidden = false;
        save.disabled = false;
      }

      async function open(path, size) {
        show("text", writable ? "Edit file" : "File", path, writable ? "Change the path to rename or move it." : "");
        textPart.hidden = true;
        encoding.textContent = "";
        content.value = "";
        save.disabled = true;
        binaryAbout.textContent = "Loading…";
        binaryPart.hidden = false;
        replace.hidden = true;
        let bytes = null;
        if (size <= TEXT_MAX) {
          const r = await fetch(base + "/get?path=" + encodeURIComponent(path), {
            credentials: "same-origin", headers: { Accept: "application/json" },
          });
          if (!r.ok) return fail("Could not open " + path + ": " + (await errorOf(r)));
          bytes = new Uint8Array(await r.arrayBuffer());
        }
        if (!state || state.path !== path) return; // closed or another file opened meanwhile
        const t = bytes && asText(bytes);
        replace.hidden = false;
        save.disabled = false;
        if (t) {
          state = { mode: "text", path, text: t, original: t.text };
          textPart.hidden = false;
          binaryPart.hidden = true;
          content.value = t.text;
          encoding.textContent = "(" + encodingLabel(t) + ", kept when saved)";
        } else {
          state = { mode: "binary", path };
          binaryAbout.textContent = sizeText(size) + ": " + (size > TEXT_MAX ? "too large to edit here" :
            "not text this editor can keep as it is (binary, or mixed line ends)") +
            (writable ? ". Download it, or replace it with an upload; the path renames or moves it." : ".");
          pathHint.textContent = "";
        }
      }

      function create(dir) {
        show("create", "New file", join(dir, ""), "Folders on the way are made for you.");
        state.text = { encoding: "utf-8", bom: new Uint8Array(0), crlf: false };
        state.original = null;
        content.value = "";
        encoding.textContent = "(UTF-8)";
        save.disabled = false;
        pathInput.focus();
      }

      function folder(dir) {
        show("folder", "New folder", join(dir, ""), "Folders on the way are made too (a/b/c).");
        save.disabled = false;
        pathInput.focus();
      }

      function renameFolder(path) {
        show("rename-folder", "Rename or move folder", path, "The new path; it must not exist yet.");
        save.disabled = false;
        pathInput.focus();
      }

      // Puts bytes at path, through the upload queue (progress, retries).
      function put(bytes, path) {
        return new Promise((resolve, reject) => {
          enqueue(bytes instanceof File ? bytes : new File([bytes], baseOf(path)), path, { done: resolve, failed: reject });
        });
      }

      // A rename or move from the path field: the folders on the new path
      // are made first (a move needs its destination folder).
      async function moveTo(from, to) {
        if (parentOf(to) && parentOf(to) !== parentOf(from)) await post("mkdir", { path: parentOf(to) });
        await move(from, to);
      }

      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        if (!state || !writable) return;
        const typed = pathInput.value;
        const to = typed.replace(/\/+$/, "");
        error.hidden = true;
        save.disabled = true;
        try {
          if (!to || (state.mode === "create" && typed.endsWith("/"))) throw new Error("Give it a name after the folder.");
          if (state.mode === "folder") {
            await post("mkdir", { path: to });
            say("Made the folder " + to + ".");
            expanded.add(parentOf(to));
            await refresh(parentOf(to));
          } else if (state.mode === "rename-folder") {
            if (to.startsWith(state.path + "/")) throw new Error("A folder cannot go into itself.");
            if (to !== state.path) await moveTo(state.path, to);
          } else if (state.mode === "create") {
            // A new file never replaces one: look first.
            const r = await fetch(base + "/ls?probe=1&path=" + encodeURIComponent(to), { credentials: "same-origin" });
            if (!r.ok) throw new Error(await errorOf(r));
            if ((await r.json()).exists) throw new Error(to + " exists already: open it to edit it.");
            await put(textBytes(state.text, content.value), to);
            say("Made " + to + ".");
          } else if (state.mode === "text") {
            if (content.value !== state.original) {
              await put(textBytes(state.text, content.value), state.path);
              state.original = content.value;
            }
            if (to !== state.path) await moveTo(state.path, to);
            say("Saved " + to + ".");
          } else if (state.mode === "binary") {
            if (replace.files.length) await put(replace.files[0], state.path);
            if (to !== state.path) await moveTo(state.path, to);
            say("Saved " + to + ".");
          }
          dialog.close();
        } catch (e) {
          fail(e.message);
        }
      });

      del.addEventListener("click", async () => {
        if (!state) return;
        const { path, mode } = state;
        dialog.close();
        if (mode === "rename-folder") await removeFolder(path);
        else await removeFile(path);
      });
      cancel.addEventListener("click", () => dialog.close());
      dialog.addEventListener("close", () => { state = null; save.disabled = false; });

      return { dialog, open, create, folder, renameFolder };
    })();

    // ---- putting it on the page ----

    const toolbarTarget = el("code", { id: "files-target" });
    const toolbar = el("div", { class: "files-toolbar" });
    if (writable) {
      toolbar.append(
        el("button", { type: "button", text: "New file", onclick: () => editor.create(target) }),
        el("button", { type: "button", text: "New folder", onclick: () => editor.folder(target) }),
        el("button", { type: "button", text: "Upload files", onclick: () => pickFiles.click() }),
        el("button", { type: "button", text: "Upload a folder", onclick: () => pickFolder.click() }),
        el("span", { class: "hint" }, "into ", toolbarTarget, " — or drag files and folders from your desktop onto a folder"),
        pickFiles, pickFolder);
    }
    toolbar.append(el("a", { class: "button secondary", href: base + "/zip", download: "", text: "Download all as a zip" }));

    const top = node("", { name: overlayName, type: "folder" });
    top.classList.add("top");
    tree.append(top);
    const plain = root.querySelector("#files-plain");
    if (plain) plain.hidden = true;
    root.querySelector("noscript")?.remove();
    const anchor = plain || root.lastChild;
    root.insertBefore(toolbar, anchor);
    root.insertBefore(said, anchor);
    root.insertBefore(tree, anchor);
    root.insertBefore(uploadsPanel, anchor);
    root.append(editor.dialog);
    markTarget();
    fill(top);
    root.dataset.ready = "1";
  }

  // Files dropped beside the tree are not opened by the browser in place of
  // the page. Once for the page: the tree may be replaced (below).
  const inTree = (ev) => ev.target && ev.target.closest && ev.target.closest("#files-tree");
  window.addEventListener("dragover", (ev) => {
    if (!inTree(ev) && Array.from(ev.dataTransfer.types || []).includes("Files")) {
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "none";
    }
  });
  window.addEventListener("drop", (ev) => { if (!inTree(ev)) ev.preventDefault(); });

  // The section is there at load, and again whenever the overlay's page
  // puts a fresh one in (after a build, app.js replaces the kind's view).
  function start() {
    const root = document.getElementById("files");
    if (root && !root.dataset.ready) FileManager(root);
  }
  document.addEventListener("DOMContentLoaded", () => {
    start();
    new MutationObserver(start).observe(document.body, { childList: true, subtree: true });
  });
  if (document.readyState !== "loading") start();
})();
