// The console's overview, redrawn by each frame of `/admin/live`: jobs by kind and status,
// each kind's throughput and failures per minute, wait times, the queues (paused or not)
// and the tenants with the most jobs waiting or running.

import { api } from "../api.js";
import { h, fill, toast, showError, confirmAction } from "../ui.js";
import { t } from "../i18n.js";
import { throughputChart, waitChart } from "./charts.js";

export const STATUSES = ["pending", "running", "succeeded", "failed", "timeout", "cancelled"];

/** The overview's element and `update(frame)`. */
export function overview() {
  const counts = h("div", { class: "table-scroll" });
  const charts = h("div", { class: "ops-charts", id: "ops-charts" });
  const queues = h("ul", { class: "list", id: "ops-queues" });
  const tenants = h("ol", { class: "list", id: "ops-tenants" });
  const updated = h("p", { class: "muted", id: "ops-updated", "aria-live": "off" }, t("ops.connecting"));
  const element = h("section", { class: "stack", id: "ops-overview" },
    updated,
    h("section", { class: "panel stack" }, h("h2", {}, t("ops.counts")),
      h("p", { class: "muted" }, t("ops.countsHint")), counts),
    h("section", { class: "panel stack" }, h("h2", {}, t("ops.throughput")), charts),
    h("div", { class: "split ops-split" },
      h("section", { class: "panel stack" }, h("h2", {}, t("ops.queues")), queues),
      h("section", { class: "panel stack" }, h("h2", {}, t("ops.tenants")), tenants)));
  const update = (frame) => {
    const stats = frame.stats;
    fill(updated, t("ops.updated", { time: new Date(stats.at).toLocaleTimeString() }));
    fill(counts, countsTable(stats));
    fill(charts, kindCharts(stats));
    fill(queues, queueRows(stats));
    fill(tenants, tenantRows(stats));
  };
  return { element, update };
}

function countsTable(stats) {
  const count = (kind, status) => stats.counts
    .filter((c) => c.kind === kind && c.status === status)
    .reduce((sum, c) => sum + c.count, 0);
  return h("table", { id: "ops-counts" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("ops.kind")),
      STATUSES.map((status) => h("th", { scope: "col" }, t(`ops.status.${status}`))))),
    h("tbody", {}, stats.kinds.map((kind) => h("tr", {},
      h("th", { scope: "row" }, t(`ops.kindName.${kind}`)),
      STATUSES.map((status) => {
        const n = count(kind, status);
        const filter = new URLSearchParams({ kind, status });
        return h("td", { dataset: { kind, status }, class: n ? "" : "muted" },
          n ? h("a", { href: `#/ops?${filter}` }, String(n)) : "0");
      })))));
}

function kindCharts(stats) {
  const waits = stats.kinds.map((kind) => {
    const lanes = stats.latency.filter((l) => l.kind === kind);
    const jobs = lanes.reduce((sum, l) => sum + l.jobs, 0);
    if (!jobs) return null;
    // The kind's slowest lane stands for it.
    return { label: t(`ops.kindName.${kind}`), p50: Math.max(...lanes.map((l) => l.waitP50)), p95: Math.max(...lanes.map((l) => l.waitP95)) };
  }).filter(Boolean);
  return [
    stats.kinds.map((kind) => {
      const points = stats.throughput.filter((p) => p.kind === kind);
      const finished = points.reduce((sum, p) => sum + p.finished, 0);
      const failed = points.reduce((sum, p) => sum + p.failed, 0);
      return h("figure", { class: "ops-chart", dataset: { kind } },
        throughputChart(points, { label: t("ops.chartLabel", { kind: t(`ops.kindName.${kind}`) }) }),
        h("figcaption", {}, h("strong", {}, t(`ops.kindName.${kind}`)), " ",
          t("ops.finishedFailed", { finished, failed })));
    }),
    h("figure", { class: "ops-chart wide", id: "ops-waits" },
      waits.length ? waitChart(waits, { label: t("ops.waitLabel") }) : h("p", { class: "muted" }, t("ops.noWaits")),
      h("figcaption", {}, t("ops.waitCaption"))),
  ];
}

function queueRows(stats) {
  return stats.kinds.map((kind) => {
    const lanes = stats.lanes.filter((l) => l.kind === kind);
    const sum = (key) => lanes.reduce((total, l) => total + l[key], 0);
    const paused = stats.paused.includes(kind);
    const toggle = h("button", {
      type: "button", class: paused ? "" : "secondary", dataset: { kind },
      id: `queue-${kind}`,
      onclick: () => setPaused(kind, !paused, toggle),
    }, paused ? t("ops.resume") : t("ops.pause"));
    return h("li", { class: "row spread", dataset: { kind, paused: String(paused) } },
      h("span", {}, h("strong", {}, t(`ops.kindName.${kind}`)), " ",
        paused ? h("span", { class: "badge warn" }, t("ops.paused")) : null, " ",
        h("span", { class: "muted" }, t("ops.load", { ready: sum("ready"), pending: sum("pending"), running: sum("running") }))),
      toggle);
  });
}

async function setPaused(kind, pause, button) {
  const name = t(`ops.kindName.${kind}`);
  if (pause && !(await confirmAction({ title: t("ops.pauseTitle", { kind: name }), body: t(kind === "calendar" ? "ops.pauseCalendar" : "ops.pauseBody"), confirm: t("ops.pause") }))) return;
  button.disabled = true;
  try {
    await api("POST", `/admin/queues/${kind}/${pause ? "pause" : "resume"}`);
    toast(t(pause ? "ops.pausedToast" : "ops.resumedToast", { kind: name }));
  } catch (error) {
    showError(error, button.parentElement);
  }
}

function tenantRows(stats) {
  if (!stats.tenants.length) return h("li", { class: "muted" }, t("ops.noTenants"));
  return stats.tenants.map((tenant) => {
    const share = Math.round(tenant.share * 100);
    const meter = h("meter", { min: 0, max: 100, value: share, "aria-label": t("ops.share") });
    return h("li", { class: "tenant stack", dataset: { workspace: tenant.workspaceId } },
      h("a", { href: `#/ops?${new URLSearchParams({ workspace: tenant.workspaceId })}`, class: "mono" }, tenant.workspaceId),
      h("span", { class: "row" }, meter, h("span", { class: "muted" },
        t("ops.tenantLoad", { share, pending: tenant.pending, running: tenant.running }))));
  });
}
