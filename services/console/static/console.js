// Progressive enhancement only: every page works without this file.
"use strict";

const LIVE_EVERY_MS = 5000;

function copyButtons() {
  // Copy buttons: the pull command, a curl command, to the clipboard.
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = button.dataset.copy;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (err) {
        const code = button.previousElementSibling;
        if (code) window.getSelection().selectAllChildren(code);
        button.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }
}

function confirmDialogs() {
  // Forms with data-confirm: ask here instead of the server's confirmation page.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      const confirm = form.querySelector("input[name=confirm]");
      if (confirm) confirm.value = "yes";
    });
  }
}

// ---------------------------------------------------------------- live tail

function percent(share) { return share === null ? "—" : (share * 100).toFixed(1) + "%"; }
function millis(ms) {
  if (ms === null) return "—";
  return ms < 10000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(1) + " s";
}
function when(stamp) { return stamp ? stamp.replace("T", " ").slice(0, 19) : "—"; }
function shortDigest(digest) {
  if (!digest) return "";
  const [algo, hex] = digest.split(":");
  return hex ? algo + ":" + hex.slice(0, 12) : digest;
}
function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function updateEndpoints(root, endpoints) {
  for (const e of endpoints) {
    const row = root.querySelector(`tr[data-endpoint="${CSS.escape(e.name)}"]`);
    if (!row) continue;
    const set = (col, text) => { const c = row.querySelector(`[data-col=${col}]`); if (c) c.textContent = text; };
    const count = (n) => (n === null ? "—" : String(n));
    const state = row.querySelector("[data-col=state]");
    if (state) { state.textContent = e.state; state.className = "state state-" + e.state; }
    set("queued", count(e.queued));
    set("retrying", count(e.retrying));
    if (!row.querySelector("[data-col=dead] a")) set("dead", count(e.dead));
    set("success_rate", percent(e.success_rate));
    set("p95_ms", millis(e.p95_ms));
    set("last_status", e.last_status !== null ? String(e.last_status) : (e.last_error_class || "—"));
  }
}

function updateOverview(root, doc) {
  const f = doc.figures;
  if (f) {
    const set = (name, text) => { const n = root.querySelector(`[data-field=${name}]`); if (n) n.textContent = text; };
    set("events", String(f.events));
    set("success_rate", percent(f.success_rate));
    set("p50_ms", millis(f.p50_ms));
    set("p95_ms", millis(f.p95_ms));
    set("notifiers_alive", String(f.notifiers.filter((n) => n.alive).length));
    const counts = f.events_per_minute.map((m) => m.events);
    const top = Math.max(1, ...counts);
    set("busiest", String(Math.max(0, ...counts)));
    const rects = root.querySelectorAll("svg.chart rect");
    counts.forEach((n, i) => {
      const rect = rects[i];
      if (!rect) return;
      const h = Math.round((n / top) * 580) / 10;
      rect.setAttribute("y", String(60 - h));
      rect.setAttribute("height", String(h));
      rect.querySelector("title").textContent = when(f.events_per_minute[i].minute) + ": " + n;
    });
  }
  updateEndpoints(root, doc.endpoints);
}

function fanout(event) {
  const cell = el("td", { class: "fanout" });
  const names = Object.keys(event.deliveries);
  if (!names.length) cell.appendChild(el("span", { class: "muted" }, "none"));
  for (const name of names) {
    const state = event.deliveries[name];
    cell.appendChild(el("a", { class: "state state-" + state, "data-endpoint": name,
      href: `/deliveries/${encodeURIComponent(event.id)}#endpoint-${name}` }, `${name}: ${state}`));
  }
  return cell;
}

function updateEvents(table, doc) {
  // New events on top; the fan-out of those shown follows their deliveries.
  const empty = table.querySelector("tbody:not([data-event-id])");
  let first = table.querySelector("tbody[data-event-id]");
  for (const event of doc.items.slice().reverse()) {
    const shown = table.querySelector(`tbody[data-event-id="${CSS.escape(event.id)}"]`);
    if (shown) {
      shown.querySelector("td.fanout").replaceWith(fanout(event));
      continue;
    }
    const body = el("tbody", { "data-event-id": event.id, class: "arrived" });
    const row = el("tr");
    const time = el("td");
    time.appendChild(el("a", { href: "/deliveries/" + encodeURIComponent(event.id) }, when(event.time)));
    row.append(time, el("td", {}, event.action),
      el("td", {}, (event.repository || "") + (event.tag ? ":" + event.tag : "")),
      el("td", { class: "digest", title: event.digest || "" }, shortDigest(event.digest)),
      el("td", {}, event.actor || ""), fanout(event));
    body.appendChild(row);
    table.insertBefore(body, first || null);
    first = body;
    if (empty) empty.remove();
  }
}

function reloadWhenChanged(root, doc) {
  const signature = doc.deliveries.map((d) => `${d.endpoint}=${d.state}/${d.attempts.length};`).join("");
  if (signature !== root.dataset.signature) window.location.reload();
}

const LIVE = { overview: updateOverview, events: updateEvents, reload: reloadWhenChanged };

function liveTail() {
  for (const root of document.querySelectorAll("[data-live]")) {
    const update = LIVE[root.dataset.liveKind];
    if (!update) continue;
    let url = root.dataset.live;
    if (root.dataset.liveKind === "events") url += (url.includes("?") ? "&" : "?") + "bodies=0";
    const note = document.querySelector(".live-note");
    if (note) note.hidden = false;
    const poll = async () => {
      if (document.hidden) return;
      try {
        const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (answer.ok) update(root, await answer.json());
      } catch (err) {
        // The next poll tries again; the page as served stays correct.
      }
    };
    setInterval(poll, LIVE_EVERY_MS);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  copyButtons();
  confirmDialogs();
  liveTail();
});
