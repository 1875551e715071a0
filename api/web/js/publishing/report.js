// A publish request's report: how many entries are ready and why the others stop, then
// each intent with its reason and the requests a real publish would send.

import { h, fill, explain, platformBadge } from "../ui.js";
import { t } from "../i18n.js";
import { firstOnly } from "../media.js";
import { connectPlatform, entryLabel, platformName, publishesTo, reason, statusBadge } from "./common.js";

/** The report in one line first: how many are ready, and how many stop for each reason. */
function summary(answer) {
  const reasons = new Map();
  const add = (text) => reasons.set(text, (reasons.get(text) ?? 0) + 1);
  let ready = 0;
  for (const i of answer.intents) {
    if (!i.error) ready += 1; else add(reason(i));
  }
  for (const r of answer.refused ?? []) add(explain({ code: r.code, details: { channel: r.channel } }));
  return h("div", { id: "report-summary", class: "stack" },
    h("p", {}, h("strong", {}, t("publishing.ready", { count: ready }))),
    reasons.size ? h("ul", {}, [...reasons].map(([text, n]) => h("li", {}, t("publishing.stopped", { count: n, reason: text })))) : null);
}

export function renderReport(el, answer, detail) {
  const problem = h("div");
  fill(el, h("section", { class: "panel stack", id: "dry-run-report" },
    h("h2", {}, answer.dryRun ? t("publishing.dryRun") : t("publishing.sentTitle")),
    answer.reason ? h("p", { class: "notice warn", id: "report-reason" }, t(answer.dryRun ? "publishing.reasonDry" : "publishing.reason", { reason: answer.reason })) : null,
    // Entries the dry run could not plan (their channel has no account): each with Connect.
    (answer.refused ?? []).map((r) => h("article", { class: "card intent refused", dataset: { entry: r.entryId, channel: r.channel, code: r.code } },
      h("div", { class: "row" }, platformBadge(r.channel), entryLabel(detail, r.entryId)),
      h("p", { class: "reason" }, explain({ code: r.code, details: { channel: r.channel } })),
      r.code === "CHANNEL_NOT_CONNECTED" && publishesTo(r.channel)
        ? h("button", { type: "button", class: "link", onclick: () => connectPlatform(r.channel, problem) }, t("publishing.connectWith", { platform: platformName(r.channel) }))
        : null)),
    problem,
    answer.intents.map((i) => h("article", { class: "card intent", dataset: { id: i.id, entry: i.entryId, channel: i.channel, status: i.status } },
      h("div", { class: "row" }, statusBadge(i.status), platformBadge(i.channel), entryLabel(detail, i.entryId)),
      i.error ? h("p", { class: "reason" }, reason(i)) : null,
      // What the post leaves out of the entry (the first medium only), said before it goes.
      (i.payload?.notes ?? []).map((note) => h("p", { class: "notice warn note", dataset: { code: note.code } },
        note.code === "FIRST_MEDIA_ONLY" ? firstOnly(platformName(i.channel), note.kind, note.named) : note.message)),
      // The requests a real publish would send, for whoever wants to check them.
      (i.payload?.requests ?? []).length ? h("details", { class: "requests" }, h("summary", {}, t("publishing.requests", { count: i.payload.requests.length })),
        h("ul", {}, i.payload.requests.map((r) => h("li", {}, `${r.method} ${r.url} `, h("span", { class: "badge" }, r.effect))))) : null))));
  el.querySelector("h2").after(summary(answer));
}
