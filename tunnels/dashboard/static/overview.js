// The requests page's overview: cost by project and day as stacked SVG bars, and the agents present.
"use strict";

const COLOURS = ["#1f6feb", "#1a7f37", "#b26b00", "#8250df", "#c62828", "#0a7ea4", "#6e7781"];

function costChart(cost) {
  const days = [...new Set(cost.map((c) => c.day))].sort().slice(-30);
  const projects = [...new Set(cost.map((c) => c.project))].sort();
  const totals = days.map((d) => cost.filter((c) => c.day === d).reduce((sum, c) => sum + c.cost_usd, 0));
  const top = Math.max(...totals, 1e-9);
  const BAR = 26, GAP = 10, H = 160, LEFT = 60, BOTTOM = 36;
  const width = LEFT + days.length * (BAR + GAP) + 160, height = H + BOTTOM + 20;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "cost by project and day", id: "cost-chart" });
  root.append(svg("text", { x: 4, y: 16, class: "phase" }, money(top)));
  root.append(svg("line", { x1: LEFT - 4, y1: 10, x2: LEFT - 4, y2: H + 10, stroke: "#d9dbdd" }));
  days.forEach((day, i) => {
    let y = H + 10;
    const x = LEFT + i * (BAR + GAP);
    projects.forEach((project, p) => {
      const entry = cost.find((c) => c.day === day && c.project === project);
      if (!entry) return;
      const h = Math.max(1, (entry.cost_usd / top) * H);
      y -= h;
      const bar = svg("rect", { x, y, width: BAR, height: h, fill: COLOURS[p % COLOURS.length], "data-project": project, "data-day": day });
      bar.append(svg("title", {}, `${project} ${day}: ${money(entry.cost_usd)}`));
      root.append(bar);
    });
    root.append(svg("text", { x, y: H + 26, class: "phase" }, day.slice(5)));
  });
  projects.forEach((project, p) => {
    const x = LEFT + days.length * (BAR + GAP) + 10, y = 20 + p * 18;
    root.append(svg("rect", { x, y: y - 10, width: 10, height: 10, fill: COLOURS[p % COLOURS.length] }));
    root.append(svg("text", { x: x + 16, y, class: "phase" }, project));
  });
  return root;
}

async function loadOverview() {
  const data = await getJSON("/api/overview");
  if (data.cost.length) document.getElementById("cost").replaceChildren(costChart(data.cost));
  const agents = document.getElementById("agents");
  if (data.agents === null) {
    agents.replaceChildren(el("p", { class: "muted" }, "Presence is known where the orchestrator runs (tunnels serve), not to the dashboard alone."));
  } else if (!data.agents.length) {
    agents.replaceChildren(el("p", { class: "muted" }, "None connected."));
  } else {
    agents.replaceChildren(el("table", {}, el("thead", {}, el("tr", {}, ...["workspace", "kind", "host", "version", "state"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...data.agents.map((a) => el("tr", { "data-workspace": a.workspace },
        el("td", {}, a.workspace), el("td", {}, a.kind), el("td", {}, a.host), el("td", {}, a.version), el("td", {}, a.draining ? "draining" : "live"))))));
  }
}
