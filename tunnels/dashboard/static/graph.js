// The plan as an SVG graph: one column per phase, one box per task, an arrow per dependency.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 190, NODE_H = 48, COL_GAP = 70, ROW_GAP = 22, PAD = 28;

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

function planGraph(plan, tasks) {
  const keyOf = (t) => t.id || t.workspace;
  const byKey = Object.fromEntries(plan.tasks.map((t) => [keyOf(t), t]));
  const place = {};
  plan.phases.forEach((phase, column) => phase.forEach((key, row) => {
    place[key] = { x: PAD + column * (NODE_W + COL_GAP), y: PAD + 14 + row * (NODE_H + ROW_GAP) };
  }));
  const rows = Math.max(1, ...plan.phases.map((p) => p.length));
  const width = PAD * 2 + plan.phases.length * NODE_W + (plan.phases.length - 1) * COL_GAP;
  const height = PAD * 2 + 14 + rows * NODE_H + (rows - 1) * ROW_GAP;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "plan graph" });
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8c959f" }));
  defs.append(marker);
  root.append(defs);
  plan.phases.forEach((_, column) => root.append(svg("text", { class: "phase", x: PAD + column * (NODE_W + COL_GAP), y: PAD }, `phase ${column + 1}`)));
  for (const task of plan.tasks) {
    const to = place[keyOf(task)];
    for (const dep of task.depends_on || []) {
      const from = place[dep];
      if (!from || !to) continue;
      const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x - 2, y2 = to.y + NODE_H / 2, mid = (x1 + x2) / 2;
      root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, "data-from": dep, "data-to": keyOf(task) }));
    }
  }
  for (const [key, at] of Object.entries(place)) {
    const task = byKey[key] || { workspace: key, task: "" };
    const state = tasks[key] || { status: "pending" };
    const group = svg("g", { class: `node ${state.status}`, "data-key": key, "data-status": state.status, transform: `translate(${at.x},${at.y})` });
    group.append(svg("title", {}, `${task.workspace}: ${task.task}`));
    group.append(svg("rect", { width: NODE_W, height: NODE_H, rx: 6 }));
    group.append(svg("text", { x: 10, y: 19 }, clip(`${key === task.workspace ? "" : key + " "}${task.workspace}`, 26)));
    group.append(svg("text", { class: "sub", x: 10, y: 37 }, clip(`${state.status} · ${task.task}`, 30)));
    root.append(group);
  }
  return root;
}
