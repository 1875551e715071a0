// The console's job list: filters kept in the address (`#/ops?kind=generation&status=failed`),
// newest first, more on demand; and every matching job retried or cancelled at once, with
// the count shown and asked first.

import { api } from "../api.js";
import { h, fill, field, toast, showError, confirmAction, when } from "../ui.js";
import { t } from "../i18n.js";
import { STATUSES } from "./overview.js";

const LANES = ["interactive", "scheduled", "bulk"];
const FIELDS = ["kind", "status", "lane", "workspace", "errorCode", "q"];

/** The filter the address holds. */
function filterOf() {
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  return Object.fromEntries(FIELDS.filter((name) => query.get(name)).map((name) => [name, query.get(name)]));
}

function choice(name, values, label, chosen, text) {
  return field(label, h("select", { name },
    h("option", { value: "" }, t("ops.any")),
    values.map((value) => h("option", { value, selected: value === chosen }, text(value)))));
}

/** The list's element and `load()`; `kinds`: the kinds the deployment runs. */
export function jobList(kinds) {
  const filter = filterOf();
  const rows = h("tbody");
  const more = h("button", { type: "button", class: "secondary", id: "ops-more", hidden: true }, t("ops.more"));
  const problem = h("div");
  const form = h("form", { class: "ops-filter", id: "ops-filter" },
    choice("kind", kinds, t("ops.kind"), filter.kind, (v) => t(`ops.kindName.${v}`)),
    choice("status", STATUSES, t("ops.column.status"), filter.status, (v) => t(`ops.status.${v}`)),
    choice("lane", LANES, t("ops.column.lane"), filter.lane, (v) => t(`ops.lane.${v}`)),
    field(t("ops.workspace"), h("input", { name: "workspace", value: filter.workspace ?? "", autocomplete: "off", pattern: "[0-9a-fA-F-]{36}" })),
    field(t("ops.errorCode"), h("input", { name: "errorCode", value: filter.errorCode ?? "", autocomplete: "off" })),
    field(t("ops.search"), h("input", { name: "q", value: filter.q ?? "", autocomplete: "off", placeholder: t("ops.searchHint") })),
    h("div", { class: "row" },
      h("button", { type: "submit", id: "ops-apply" }, t("ops.apply")),
      h("a", { href: "#/ops", class: "button secondary" }, t("ops.clear"))));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (String(value).trim()) chosen.set(name, String(value).trim());
    location.hash = `#/ops${chosen.size ? `?${chosen}` : ""}`;
  });
  const bulk = h("div", { class: "row", id: "ops-bulk" },
    h("button", { type: "button", id: "ops-retry", onclick: () => act("retry", filter, problem, reload) }, t("ops.retryAll")),
    h("button", { type: "button", class: "danger", id: "ops-cancel", onclick: () => act("cancel", filter, problem, reload) }, t("ops.cancelAll")));
  let cursor = null;
  const page = async (reset) => {
    const query = new URLSearchParams(filter);
    if (!reset && cursor) query.set("cursor", cursor);
    const answer = await api("GET", `/admin/jobs?${query}`);
    if (reset) fill(rows);
    if (reset && !answer.items.length) rows.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, t("ops.noJobs"))));
    rows.append(...answer.items.map(jobRow));
    cursor = answer.nextCursor;
    more.hidden = !cursor;
  };
  const reload = () => page(true).catch((error) => showError(error, problem));
  more.addEventListener("click", () => page(false).catch((error) => showError(error, problem)));
  const element = h("section", { class: "panel stack", id: "ops-jobs" },
    h("h2", {}, t("ops.jobs")), form, bulk, problem,
    h("div", { class: "table-scroll" }, h("table", { id: "ops-job-table" },
      h("thead", {}, h("tr", {}, ["id", "kind", "status", "lane", "attempts", "error", "created"].map((c) => h("th", { scope: "col" }, t(`ops.column.${c}`))))),
      rows)),
    more);
  return { element, load: () => page(true) };
}

function jobRow(job) {
  return h("tr", { class: "ops-job", dataset: { id: job.id, status: job.status, kind: job.kind } },
    h("td", {}, h("a", { href: `#/ops/jobs/${job.id}`, class: "mono" }, job.id.slice(-12))),
    h("td", {}, t(`ops.kindName.${job.kind}`)),
    h("td", {}, h("span", { class: `badge status-${job.status}` }, t(`ops.status.${job.status}`))),
    h("td", {}, t(`ops.lane.${job.lane}`)),
    h("td", {}, `${job.attempts}/${job.maxAttempts}`),
    h("td", { class: "mono" }, job.lastError?.code ?? ""),
    h("td", {}, when(job.createdAt)));
}

/** Retries or cancels every job the filter matches: counted first, asked, then done. */
async function act(action, filter, problem, reload) {
  fill(problem);
  const body = { ...filter, all: Object.keys(filter).length === 0 };
  try {
    const counted = await api("POST", `/admin/jobs/${action}`, { ...body, dryRun: true });
    const taken = action === "retry" ? counted.retried : counted.cancelled;
    const skipped = Object.entries(counted.skipped).map(([reason, n]) => t("ops.skippedLine", { count: n, reason: t(`ops.skip.${reason}`) }));
    if (!taken) {
      toast(t("ops.nothingTo", { count: counted.matched }));
      return;
    }
    const ok = await confirmAction({
      title: t(action === "retry" ? "ops.retryTitle" : "ops.cancelTitle", { count: taken }),
      body: [t("ops.matched", { count: counted.matched }), ...skipped].join(" "),
      confirm: t(action === "retry" ? "ops.retryConfirm" : "ops.cancelConfirm", { count: taken }),
    });
    if (!ok) return;
    const done = await api("POST", `/admin/jobs/${action}`, body);
    toast(t(action === "retry" ? "ops.retried" : "ops.cancelled", { count: action === "retry" ? done.retried : done.cancelled }));
    await reload();
  } catch (error) {
    showError(error, problem);
  }
}
