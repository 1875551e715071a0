// The calendar's live intents, refreshed every second while any is moving; each scheduled
// one can be cancelled, each failed or unconfirmed one retried.

import { api } from "../api.js";
import { h, fill, when, showError } from "../ui.js";
import { t } from "../i18n.js";
import { MOVING, entryLabel, meaning, platformName, reason, statusBadge } from "./common.js";

let timer = null;

/** Stops refreshing (the page is left). */
export function stopRefreshing() {
  clearTimeout(timer);
  timer = null;
}

export async function renderIntents(el, calendarId, detail) {
  clearTimeout(timer);
  let items;
  try {
    ({ items } = await api("GET", `/v1/publish-intents?calendarId=${calendarId}&limit=100`));
  } catch (error) { return showError(error, el); }
  if (!el.isConnected) return;
  const live = items.filter((i) => !i.dryRun);
  // Newest first: an entry's first live intent is where it stands now.
  detail.statusByEntry = new Map();
  for (const i of live) if (!detail.statusByEntry.has(i.entryId)) detail.statusByEntry.set(i.entryId, i.status);
  detail.onStatuses?.();
  fill(el, live.length ? h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, t("publishing.entry")), h("th", {}, t("publishing.channel")), h("th", {}, t("publishing.status")), h("th", {}, t("publishing.details")), h("th", {}, h("span", { class: "muted" }, t("publishing.actions"))))),
    h("tbody", {}, live.map((i) => h("tr", { class: "intent-row", dataset: { id: i.id, entry: i.entryId, channel: i.channel, status: i.status } },
      h("td", {}, entryLabel(detail, i.entryId)), h("td", {}, platformName(i.channel)), h("td", {}, statusBadge(i.status)),
      h("td", {}, i.publishAt && i.status === "scheduled" ? t("publishing.at", { when: when(i.publishAt) }) : "",
        i.remotePostId ? ` ${t("publishing.post", { id: i.remotePostId })}` : "", i.error ? h("div", { class: "reason" }, reason(i)) : null,
        i.status === "unconfirmed" ? h("div", { class: "notice warn" }, meaning("unconfirmed")) : null),
      h("td", {},
        i.status === "scheduled" ? h("button", { type: "button", class: "link", onclick: () => act("DELETE", `/v1/publish-intents/${i.id}`) }, t("common.cancel")) : null,
        ["failed", "unconfirmed"].includes(i.status) ? h("button", { type: "button", class: "link", onclick: () => act("POST", `/v1/publish-intents/${i.id}/retry`) }, t("publishing.retry")) : null))))))
    : h("p", { class: "muted" }, t("publishing.nothingYet")));
  async function act(method, path) {
    try { await api(method, path); } catch (error) { showError(error); }
    await renderIntents(el, calendarId, detail);
  }
  if (live.some((i) => MOVING.has(i.status))) timer = setTimeout(() => renderIntents(el, calendarId, detail), 1000);
}
