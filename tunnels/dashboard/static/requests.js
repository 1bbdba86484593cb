// The requests page: the rows from /api/requests, kept current by /api/stream.
"use strict";

const body = document.querySelector("#requests tbody");
const query = document.getElementById("q");
const statusFilter = document.getElementById("status");
let timer = null;

function rowNode(row) {
  const link = el("a", { href: `/requests/${encodeURIComponent(row.request_id)}` }, row.request_id);
  return el("tr", { "data-id": row.request_id, "data-status": row.status },
    el("td", {}, link), el("td", {}, badge(row.status)), el("td", {}, row.projects.join(", ")),
    el("td", {}, row.requester), el("td", {}, new Date(row.opened_at).toLocaleString()),
    el("td", {}, duration(row)), el("td", {}, money(row.cost_usd)),
    el("td", {}, `${row.tasks_done}/${row.tasks}`), el("td", { class: "text", title: row.text }, row.text));
}

async function load() {
  const params = new URLSearchParams({ q: query.value, status: statusFilter.value });
  const data = await getJSON(`/api/requests?${params}`);
  body.replaceChildren(...data.requests.map(rowNode));
  const parts = Object.entries(data.by_status).map(([s, n]) => `${n} ${s.replace("_", " ")}`);
  document.getElementById("counts").textContent = `${data.total} requests: ${parts.join(", ")}`;
  document.body.dataset.loaded = "1";
  loadOverview();
}

function soon() { clearTimeout(timer); timer = setTimeout(load, 250); }

query.addEventListener("input", soon);
statusFilter.addEventListener("change", load);
load();
follow("/api/stream", () => {}).addEventListener("row", soon);
