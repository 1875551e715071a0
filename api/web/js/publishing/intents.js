// The calendar's live intents, refreshed every second while any is moving (the last
// request's report follows their statuses too); each scheduled one can be cancelled, each
// unconfirmed one and each failure another try may get past retried (one the platform
// would refuse the same way says to change the entry first). Times are the calendar's, its zone named.

import { api } from "../api.js";
import { h, fill, showError } from "../ui.js";
import { t, formatZoned } from "../i18n.js";
import { MOVING, entryLabel, meaning, platformName, reason, statusBadge, zoneOf } from "./common.js";

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
  followInReport(live);
  fill(el, live.length ? h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, t("publishing.entry")), h("th", {}, t("publishing.channel")), h("th", {}, t("publishing.status")), h("th", {}, t("publishing.details")), h("th", {}, h("span", { class: "muted" }, t("publishing.actions"))))),
    h("tbody", {}, live.map((i) => h("tr", { class: "intent-row", dataset: { id: i.id, entry: i.entryId, channel: i.channel, status: i.status } },
      h("td", {}, entryLabel(detail, i.entryId)), h("td", {}, platformName(i.channel)), h("td", {}, statusBadge(i.status)),
      h("td", {}, i.publishAt && i.status === "scheduled" ? t("publishing.at", { when: formatZoned(i.publishAt, zoneOf(detail)) }) : "",
        i.remotePostId ? [" ", postLink(i)] : "", i.error ? h("div", { class: "reason" }, reason(i)) : null,
        firstComment(i),
        i.status === "unconfirmed" ? h("div", { class: "notice warn" }, meaning("unconfirmed")) : null),
      h("td", {},
        i.status === "scheduled" ? h("button", { type: "button", class: "link", "data-needs": "editor", onclick: () => act("DELETE", `/v1/publish-intents/${i.id}`) }, t("common.cancel")) : null,
        retryable(i) ? h("button", { type: "button", class: "link retry", "data-needs": "editor", onclick: () => act("POST", `/v1/publish-intents/${i.id}/retry`) }, t("publishing.retry")) : null,
        i.status === "failed" && !retryable(i) ? h("span", { class: "muted change-first" }, t("publishing.changeFirst")) : null))))))
    : h("p", { class: "muted" }, t("publishing.nothingYet")));
  async function act(method, path) {
    try { await api(method, path); } catch (error) { showError(error); }
    await renderIntents(el, calendarId, detail);
  }
  if (live.some((i) => MOVING.has(i.status))) timer = setTimeout(() => renderIntents(el, calendarId, detail), 1000);
}

/** Whether another try may go through: an unconfirmed post (looked for first), or a
 * failure the platform may take later; not one it would refuse the same way again. */
const retryable = (i) => i.status === "unconfirmed" || (i.status === "failed" && i.error?.retryable !== false);

/** The published post: its id, a link to it on the platform where the platform gave one. */
function postLink(i) {
  const label = t("publishing.post", { id: i.remotePostId });
  return /^https?:\/\//i.test(i.postUrl ?? "")
    ? h("a", { href: i.postUrl, class: "post-link", target: "_blank", rel: "noopener noreferrer" }, label)
    : h("span", { class: "post-id" }, label);
}

/** What became of a published post's first comment: sent, not posted (why), or unknown
 * (never sent again: to be looked for under the post). */
function firstComment(i) {
  const comment = i.firstComment;
  if (!comment) return null;
  const said = t(`publishing.firstComment.${comment.status}`);
  const why = comment.status !== "sent" && comment.error ? reason({ channel: i.channel, error: comment.error }) : "";
  return h("div", { class: `first-comment ${comment.status === "sent" ? "muted" : "notice warn"}`, dataset: { comment: comment.status } },
    said, why ? [" ", h("span", { class: "why" }, why)] : null);
}

/** The last request's report shows where each of its intents stands now. */
function followInReport(live) {
  const byId = new Map(live.map((i) => [i.id, i.status]));
  for (const card of document.querySelectorAll("#dry-run-report article.intent[data-id]")) {
    const status = byId.get(card.dataset.id);
    if (!status || status === card.dataset.status) continue;
    card.dataset.status = status;
    card.querySelector(".badge.status")?.replaceWith(statusBadge(status));
  }
}
