// Shared helpers of the dashboard's pages: no framework, no build step.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function duration(row) {
  const start = Date.parse(row.opened_at);
  const end = row.ended_at ? Date.parse(row.ended_at) : Date.now();
  const s = Math.max(0, Math.round((end - start) / 1000));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${(s / 3600).toFixed(1)} h`;
}

function money(usd) { return `$${(usd || 0).toFixed(4)}`; }

function badge(status) { return el("span", { class: `status s-${status}` }, status.replace("_", " ")); }

function follow(url, onMessage) {
  // Server-sent events, reconnecting by themselves; the live marker says whether we are connected.
  const live = document.getElementById("live");
  const source = new EventSource(url);
  source.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  source.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  source.onmessage = onMessage;
  return source;
}

getJSON("/api/me").then((me) => {
  document.getElementById("me").textContent = me.identity ? `signed in as ${me.identity}` : "read-only";
}).catch(() => {});
