// One request's page: its plan graph, tasks, result and changes, live from its event stream.
"use strict";

const requestId = decodeURIComponent(location.pathname.split("/").pop());
document.getElementById("rid").textContent = requestId;
document.title = `tunnels: ${requestId}`;
let timer = null;

function taskNode(key, task, lines) {
  const facts = task.facts || {};
  const bits = [key === task.workspace ? "" : task.workspace, badge(task.status)];
  const meta = [task.target !== "local" ? `on ${task.target}` : "", facts.branch ? `branch ${facts.branch}` : "",
    facts.commit ? `commit ${facts.commit.slice(0, 10)}` : "", task.child_request_id ? "child request " : "",
    task.usage && task.usage.cost_usd ? money(task.usage.cost_usd) : ""].filter(Boolean).join(" · ");
  const node = el("div", { class: "task", "data-key": key, "data-status": task.status },
    el("strong", {}, key), " ", ...bits.map((b) => (b instanceof Node ? b : el("span", {}, ` ${b} `))), el("div", { class: "muted" }, task.task));
  if (meta) node.append(el("div", { class: "muted" }, meta));
  if (task.child_request_id) node.append(el("a", { href: `/requests/${encodeURIComponent(task.child_request_id)}` }, task.child_request_id));
  if (facts.files && facts.files.length) {
    node.append(el("div", { class: "muted" }, facts.files.map((f) => `${f.path} +${f.added} -${f.removed}`).join(", ")));
  }
  const text = [...(lines || []), task.result ? `result: ${task.result.summary}` : "", task.error ? `error: ${task.error}` : ""].filter(Boolean);
  if (text.length) node.append(el("pre", { class: "progress" }, text.join("\n")));
  return node;
}

async function load() {
  const data = await getJSON(`/api/requests/${encodeURIComponent(requestId)}`);
  const r = data.request;
  const status = document.getElementById("status");
  status.replaceChildren(badge(r.status));
  document.body.dataset.status = r.status;
  document.getElementById("text").textContent = r.text;
  const parent = data.row.parent ? ` · for ${data.row.parent}` : "";
  document.getElementById("facts").textContent =
    `${r.requester} · ${r.channel} · ${(r.projects || []).join(", ") || "no project yet"} · ${duration(data.row)} · ${money(r.usage.cost_usd)}` +
    (r.approved_by ? ` · approved by ${r.approved_by}` : "") + parent;
  document.getElementById("approve").hidden = r.status !== "awaiting_approval";
  document.getElementById("cancel").hidden = !["awaiting_approval", "executing", "planning", "routing"].includes(r.status);
  const graph = document.getElementById("graph");
  if (r.plan) graph.replaceChildren(planGraph(r.plan, r.tasks));
  document.getElementById("tasks").replaceChildren(...Object.entries(r.tasks).map(([k, t]) => taskNode(k, t, data.progress[k])));
  document.getElementById("answer").textContent = r.answer || r.reason || "";
  const changes = Object.entries(r.changes || {});
  if (changes.length) document.getElementById("changes").replaceChildren(...changes.map(([repo, c]) => changesNode(repo, c)));
  const timeline = await getJSON(`/api/requests/${encodeURIComponent(requestId)}/timeline`);
  document.getElementById("timeline").textContent = timeline.lines.join("\n");
  document.body.dataset.loaded = "1";
}

function changesNode(repo, c) {
  const p = c.proposal || {};
  const files = (p.files || []).map((f) => `${f.path} +${f.added} -${f.removed}`).join(", ");
  const node = el("div", { class: "task", "data-repo": repo, "data-status": c.status },
    el("strong", {}, repo), " ", badge(c.status), " ", el("code", {}, p.branch || ""),
    el("div", { class: "muted" }, [c.decision && `${c.decision} by ${c.by}`, c.outcome, files].filter(Boolean).join(" · ")));
  if (c.status === "open") {
    for (const [decision, label] of [["merge", "Merge"], ["pr", "Open PR"], ["discard", "Discard"]]) {
      const button = el("button", { type: "button", "data-decision": decision }, label);
      button.addEventListener("click", () => act("changes", { decision, repo }));
      node.append(" ", button);
    }
  }
  return node;
}

async function act(action, body) {
  const outcome = document.getElementById("outcome");
  outcome.textContent = "…";
  const init = { method: "POST", credentials: "same-origin" };
  if (body) Object.assign(init, { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  const response = await fetch(`/api/requests/${encodeURIComponent(requestId)}/${action}`, init);
  const data = await response.json();
  outcome.textContent = data.text || data.error || data.outcome;
  outcome.className = response.ok ? "" : "refused";
  outcome.dataset.outcome = data.outcome || "error";
  load();
}

function soon() { clearTimeout(timer); timer = setTimeout(load, 150); }

document.getElementById("approve").addEventListener("click", () => act("approve"));
document.getElementById("cancel").addEventListener("click", () => act("cancel"));
load();
// `plain=1`: every event arrives as a "message" (no event names), and each one reloads the view.
const source = follow(`/api/requests/${encodeURIComponent(requestId)}/events?history=0&plain=1`, soon);
source.addEventListener("end", () => {
  source.close();  // the request ended: nothing more will come
  const live = document.getElementById("live");
  live.textContent = "ended";
  live.classList.remove("on");
  soon();
});
