// A regeneration's proposal: its changes, each with its channel, day and time and what
// changed, conflicts with the user's edits marked, filtered by kind with their counts; to
// accept some or all (what an accept would remove is named first), or to answer later
// ("Later" folds it to one line on this device until the person reviews it).

import { api } from "../api.js";
import { h, fill, toast, showError, confirmAction, day, platformBadge } from "../ui.js";
import { t, formatTime } from "../i18n.js";
import { forget, reload } from "./page.js";

/** The proposals put off for later on this device, by calendar. */
const laterKey = (calendarId) => `almanac.later.${calendarId}`;

/** What the list can show: every change, each kind, the conflicts. */
const FILTERS = ["all", "added", "updated", "removed", "conflicts"];
const matches = (change, filter) => filter === "all" || (filter === "conflicts" ? change.conflict : change.kind === filter);

/** A proposal nobody answered: the whole list, unless it was put off for later here. */
export async function showProposal(state, runId) {
  if (localStorage.getItem(laterKey(state.id)) === runId) return showLater(state, runId);
  return showDiff(state, runId);
}

/** The proposal folded to one line, with the way back to it. */
function showLater(state, runId) {
  fill(state.els.diff, h("p", { class: "notice row", id: "proposal-later" },
    h("span", {}, t("calendar.proposalWaiting")),
    h("button", { type: "button", class: "secondary", id: "proposal-review", onclick: () => {
      localStorage.removeItem(laterKey(state.id));
      showDiff(state, runId);
    } }, t("calendar.proposalReview"))));
}

/** An entry's channel, day and time, as a change names it. */
const placeOf = (e) => [platformBadge(e.channel), " ", h("span", { class: "when" }, `${day(e.date)} ${formatTime(String(e.time ?? "").slice(0, 5))}`)];

/** What an update changes, in words: its title, its day or time, its text. */
function changed(c) {
  const before = c.before ?? {};
  const after = c.after ?? {};
  const parts = [];
  if (before.title !== after.title) parts.push(`${before.title} → ${after.title}`);
  if (before.date !== after.date || String(before.time).slice(0, 5) !== String(after.time).slice(0, 5)) {
    parts.push(t("calendar.changeMoved", { from: `${day(before.date)} ${formatTime(String(before.time).slice(0, 5))}` }));
  }
  if (before.caption !== after.caption) parts.push(t("calendar.changeText"));
  return parts.join(" · ");
}

/** The proposed changes of a regeneration; the user accepts some or all. */
export async function showDiff(state, runId) {
  const { diff } = state.els;
  let detail;
  try {
    detail = await api("GET", `/v1/calendars/${state.id}/runs/${runId}`);
  } catch (error) {
    return showError(error, diff);
  }
  const pending = detail.changes.filter((c) => !c.appliedAt);
  if (!pending.length) {
    forget(state.id);
    return fill(diff);
  }
  const label = (c) => (c.after ?? c.before ?? {}).title ?? t("calendar.untitledEntry");
  const entryOf = (c) => c.after ?? c.before ?? {};
  const sorted = [...pending].sort((a, b) => {
    const [x, y] = [entryOf(a), entryOf(b)];
    return `${x.date}${x.time}${x.channel}`.localeCompare(`${y.date}${y.time}${y.channel}`);
  });
  const rows = sorted.map((c) => {
    const box = h("input", { type: "checkbox", value: c.id, checked: !c.conflict, "aria-label": t("calendar.acceptChange", { kind: t(`calendar.change.${c.kind}`), title: label(c) }) });
    return h("div", { class: `change${c.conflict ? " conflict" : ""}`, dataset: { kind: c.kind, key: c.key, conflict: String(Boolean(c.conflict)) } },
      h("label", { class: "check" }, box,
        h("span", { class: `badge ${c.kind === "added" ? "ok" : c.kind === "removed" ? "bad" : ""}` }, t(`calendar.change.${c.kind}`)),
        " ", ...placeOf(entryOf(c)), " ", h("strong", {}, label(c))),
      c.conflict ? h("span", { class: "badge warn" }, t("calendar.conflict")) : null,
      c.kind === "updated" ? h("div", { class: "muted" }, changed(c)) : null);
  });
  const counts = ["added", "updated", "removed"].map((k) => t(`calendar.count.${k}`, { count: pending.filter((c) => c.kind === k).length })).join(", ");
  // The list shows one kind at a time, or all; each choice says how many it holds. "Accept
  // selected" takes the ticked changes shown, never those a filter hides.
  const list = h("div", { class: "scroll", id: "diff-list" }, rows);
  const filters = FILTERS.filter((f) => f === "all" || pending.some((c) => matches(c, f))).map((f) => h("button", {
    type: "button", class: "secondary", id: `diff-filter-${f}`, "aria-pressed": String(f === "all"),
    onclick: () => {
      sorted.forEach((c, i) => { rows[i].hidden = !matches(c, f); });
      for (const button of filterBar.querySelectorAll("button")) button.setAttribute("aria-pressed", String(button.id === `diff-filter-${f}`));
    },
  }, t(`calendar.diffFilter.${f}`, { count: pending.filter((c) => matches(c, f)).length })));
  const filterBar = h("div", { class: "row views", role: "group", id: "diff-filters", "aria-label": t("calendar.diffFilterLabel") }, filters);
  const accept = async (body) => {
    // Entries an accept would remove are named before they go.
    const chosen = body.all ? pending.filter((c) => !c.conflict) : pending.filter((c) => body.changeIds.includes(c.id));
    const removed = chosen.filter((c) => c.kind === "removed").length;
    if (removed > 0) {
      const sure = await confirmAction({ title: t("confirm.acceptRemoves", { count: removed }), body: t("confirm.acceptRemovesBody"), confirm: t("confirm.acceptRemovesYes") });
      if (!sure) return;
    }
    try {
      const result = await api("POST", `/v1/calendars/${state.id}/runs/${runId}/accept`, body);
      toast(t("calendar.applied", { count: result.applied.length }));
      state.els.status.textContent = t("calendar.appliedNow", { count: result.applied.length, entries: result.entries });
      state.els.status.className = "";
      forget(state.id);
      localStorage.removeItem(laterKey(state.id));
      fill(diff);
      await reload(state);
    } catch (error) {
      showError(error);
    }
  };
  fill(diff, h("section", { class: "panel stack", "aria-label": t("calendar.proposed") },
    h("h2", {}, t("calendar.proposedVersion", { version: detail.run.version })),
    h("p", { class: "muted" }, t("calendar.proposedHint", { counts })),
    h("div", { class: "row" },
      h("button", { type: "button", id: "accept-selected", "data-needs": "editor", onclick: () => accept({ changeIds: [...diff.querySelectorAll(".change:not([hidden]) input:checked")].map((b) => b.value) }) }, t("calendar.acceptSelected")),
      h("button", { type: "button", id: "accept-all", class: "secondary", "data-needs": "editor", onclick: () => accept({ all: true }) }, t("calendar.acceptAll")),
      h("button", { type: "button", class: "link", id: "diff-later", onclick: () => {
        forget(state.id);
        localStorage.setItem(laterKey(state.id), runId);
        showLater(state, runId);
      } }, t("calendar.later"))),
    filterBar,
    list));
}
