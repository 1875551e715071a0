// One job as the console shows it: where it is, its attempts and last error, the row it
// works on, and its events (or that they expired).

import { api } from "../api.js";
import { h, when } from "../ui.js";
import { t } from "../i18n.js";

export async function jobPage(id) {
  const detail = await api("GET", `/admin/jobs/${encodeURIComponent(id)}`);
  const job = detail.job;
  const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value ?? "—")];
  return h("section", { class: "panel stack", id: "ops-job", dataset: { status: job.status } },
    h("h2", { class: "mono" }, job.id),
    h("dl", { class: "facts" },
      fact(t("ops.column.kind"), t(`ops.kindName.${job.kind}`)),
      fact(t("ops.column.status"), h("span", { class: `badge status-${job.status}` }, t(`ops.status.${job.status}`))),
      fact(t("ops.column.lane"), t(`ops.lane.${job.lane}`)),
      fact(t("ops.workspace"), h("a", { href: `#/ops?${new URLSearchParams({ workspace: job.workspaceId })}`, class: "mono" }, job.workspaceId)),
      fact(t("ops.user"), h("span", { class: "mono" }, job.userId)),
      fact(t("ops.column.attempts"), `${job.attempts}/${job.maxAttempts}`),
      fact(t("ops.lastError"), job.lastError ? `${job.lastError.code}: ${job.lastError.message}` : null),
      fact(t("ops.requestId"), job.requestId ? h("span", { class: "mono" }, job.requestId) : null),
      fact(t("ops.column.created"), when(job.createdAt)),
      fact(t("ops.started"), job.startedAt ? when(job.startedAt) : null),
      fact(t("ops.finished"), job.finishedAt ? when(job.finishedAt) : null),
      fact(t("ops.worker"), detail.worker),
      fact(t("ops.domain"), detail.domain ? h("span", { class: "mono" }, `${detail.domain.table} ${detail.domain.id}`) : null)),
    h("h3", {}, t("ops.events")),
    detail.eventsExpired
      ? h("p", { class: "muted", id: "ops-events-expired" }, t("ops.eventsExpired"))
      : h("ol", { class: "list", id: "ops-events" }, detail.events.map((event) => h("li", { dataset: { type: event.type } },
        h("strong", {}, `${event.seq}. ${event.type}`), " ",
        h("span", { class: "muted" }, summary(event.data))))));
}

/** An event's data in a line: its message, stage or status; never the tenant's content. */
function summary(data) {
  if (!data || typeof data !== "object") return "";
  return data.message ?? data.stage ?? data.status ?? "";
}
