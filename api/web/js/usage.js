// Usage: what the person's AI work costs (today's tokens against the daily budget, the last
// 30 days by kind and by day, drawn here as SVG) and their jobs waiting or running now,
// which follow the work while the page is open (`GET /v1/usage`).

import { api } from "./api.js";
import { h, fill } from "./ui.js";
import { t, number, formatDay, formatZoned, dollars } from "./i18n.js";

/** How often the jobs waiting or running are read again while the page is shown. */
const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";

let timer = null;

export async function show(view) {
  const today = h("section", { class: "panel stack", id: "usage-today" });
  const month = h("section", { class: "panel stack", id: "usage-month" });
  const jobs = h("section", { class: "panel stack", id: "usage-jobs", "aria-live": "polite" });
  fill(view, h("h1", {}, t("usage.title")), h("p", { class: "muted" }, t("usage.intro")),
    h("div", { class: "usage-top" }, today, jobs), month);
  const render = (usage) => {
    renderToday(today, usage.today);
    renderMonth(month, usage);
    renderJobs(jobs, usage.jobs);
  };
  render(await api("GET", "/v1/usage"));
  const again = async () => {
    try {
      renderJobs(jobs, (await api("GET", "/v1/usage")).jobs);
    } finally {
      // Unless the page was left meanwhile (`leave`).
      if (timer !== null) timer = setTimeout(again, REFRESH_MS);
    }
  };
  timer = setTimeout(again, REFRESH_MS);
}

export function leave() {
  clearTimeout(timer);
  timer = null;
}

function renderToday(section, today) {
  const used = t("usage.todayUsed", { used: number(today.tokens) });
  const budget = today.limit === null
    ? [h("p", { id: "usage-today-tokens" }, used), h("p", { class: "muted" }, t("usage.noLimit"))]
    : [
      h("p", { id: "usage-today-tokens" }, t("usage.todayOf", { used: number(today.tokens), limit: number(today.limit) })),
      h("progress", {
        id: "usage-meter", max: today.limit, value: Math.min(today.tokens, today.limit),
        "aria-label": t("usage.meter"),
        class: today.remaining === 0 ? "spent" : "",
      }),
      h("p", { class: today.remaining === 0 ? "notice warn" : "muted", id: "usage-remaining" },
        today.remaining === 0 ? t("usage.spent") : t("usage.remaining", { left: number(today.remaining) })),
    ];
  fill(section, h("h2", {}, t("usage.today")), ...budget,
    h("p", { class: "muted", id: "usage-resets" }, t("usage.resets", { at: formatZoned(today.resetsAt) })));
}

function renderMonth(section, usage) {
  const byKind = new Map();
  for (const day of usage.days) {
    const sum = byKind.get(day.kind) ?? { calls: 0, tokens: 0, costUsd: 0 };
    sum.calls += day.calls;
    sum.tokens += day.tokens;
    sum.costUsd += day.costUsd;
    byKind.set(day.kind, sum);
  }
  const rows = [...byKind].sort((a, b) => b[1].tokens - a[1].tokens).map(([kind, sum]) => h("tr", { dataset: { kind } },
    h("th", { scope: "row" }, t(`ops.kindName.${kind}`)),
    h("td", { class: "num" }, number(sum.calls)),
    h("td", { class: "num" }, number(sum.tokens)),
    h("td", { class: "num" }, dollars(sum.costUsd))));
  const period = t("usage.period", { from: formatDay(usage.from), to: formatDay(usage.to) });
  const table = rows.length
    ? h("div", { class: "table-wrap" }, h("table", { id: "usage-kinds" },
      h("thead", {}, h("tr", {}, ...["usage.kind", "usage.calls", "usage.tokens", "usage.cost"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, rows),
      h("tfoot", {}, h("tr", {},
        h("th", { scope: "row" }, t("usage.total")),
        h("td", { class: "num" }, number(usage.totals.calls)),
        h("td", { class: "num", id: "usage-total-tokens" }, number(usage.totals.tokens)),
        h("td", { class: "num" }, dollars(usage.totals.costUsd))))))
    : h("p", { class: "muted", id: "usage-none" }, t("usage.none"));
  fill(section, h("h2", {}, t("usage.month")), h("p", { class: "muted" }, period),
    rows.length ? dailyChart(usage) : null, table);
}

/** Tokens per day over the period, one bar a day (days without calls are empty). */
function dailyChart(usage) {
  const days = [];
  for (let d = new Date(`${usage.from}T00:00:00Z`); d <= new Date(`${usage.to}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
    days.push(d.toISOString().slice(0, 10));
  }
  const tokens = new Map();
  for (const day of usage.days) tokens.set(day.day, (tokens.get(day.day) ?? 0) + day.tokens);
  const width = 600;
  const height = 80;
  const top = Math.max(1, ...tokens.values());
  const bar = width / days.length;
  const label = t("usage.chart");
  const chart = document.createElementNS(SVG, "svg");
  for (const [k, v] of Object.entries({ viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "chart", role: "img", "aria-label": label, id: "usage-chart" })) chart.setAttribute(k, v);
  const title = document.createElementNS(SVG, "title");
  title.textContent = label;
  chart.append(title);
  days.forEach((day, i) => {
    const value = tokens.get(day) ?? 0;
    if (!value) return;
    const tall = Math.max(1, (value / top) * (height - 2));
    const rect = document.createElementNS(SVG, "rect");
    for (const [k, v] of Object.entries({ class: "bar", x: i * bar + 1, y: height - tall, width: Math.max(1, bar - 2), height: tall })) rect.setAttribute(k, v);
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = `${formatDay(day)}: ${t("usage.dayTokens", { tokens: number(value) })}`;
    rect.append(tip);
    chart.append(rect);
  });
  return chart;
}

function renderJobs(section, jobs) {
  const busy = jobs.filter((j) => j.queued + j.running > 0);
  const list = busy.length
    ? h("ul", { class: "list", id: "usage-job-list" }, busy.map((j) => h("li", { dataset: { kind: j.kind, lane: j.lane } },
      h("strong", {}, t(`ops.kindName.${j.kind}`)), " ",
      h("span", {}, t("usage.jobsNow", { queued: number(j.queued), running: number(j.running) })))))
    : h("p", { class: "muted", id: "usage-jobs-none" }, t("usage.jobsNone"));
  fill(section, h("h2", {}, t("usage.jobs")), list);
}
