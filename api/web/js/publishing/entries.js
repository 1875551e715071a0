// A calendar's entries to publish: a row each with where it stands and its media (the
// first upload's thumbnail and how many), filters by channel, status and media (uploads
// or an address), a page of them at a time, a selection nothing is in until the person
// chooses (cleared once an action is done with it), and one media address for every
// selected entry. `update()` shows the statuses the intents' list read.

import { api, atVersion } from "../api.js";
import { h, field, fill, toast, day, showProblem, platformBadge } from "../ui.js";
import { t } from "../i18n.js";
import { platformName, zoneOf } from "./common.js";
import { ensureMedia, thumbnail } from "../media.js";
import { who } from "../people.js";

/** Where each entry stands: not sent yet, or its latest publication's status. */
const ENTRY_STATUSES = ["unsent", "scheduled", "publishing", "published", "draft_sent", "failed", "unconfirmed"];
/** The entries shown at a time: a long calendar is paged, not one endless table. */
const PAGE = 15;

export function entriesView(detail, calendarId) {
  // Nothing is selected until the person chooses: publishing is not undone by a click.
  const boxes = detail.entries.map((e) => h("input", { type: "checkbox", value: e.id, checked: false, "aria-label": t("publishing.selectEntry", { channel: platformName(e.channel), day: day(e.date), title: e.title, caption: e.caption }) }));
  const table = h("div", { class: "table-wrap" }, h("table", { id: "entries" },
    h("thead", {}, h("tr", {}, h("th", {}, h("span", { class: "muted" }, t("publishing.publish"))), h("th", {}, t("publishing.entry")), h("th", {}, t("publishing.media")))),
    h("tbody", {}, detail.entries.map((e, i) => h("tr", { dataset: { entry: e.id, channel: e.channel } },
      h("td", {}, boxes[i]),
      h("td", {}, platformBadge(e.channel), ` ${day(e.date)} ${e.time.slice(0, 5)} · ${e.title} `,
        h("span", { class: "badge entry-status", dataset: { status: "unsent" } }, t("status.unsent")),
        h("div", { class: "muted entry-caption", title: e.caption }, e.caption)),
      h("td", { class: "media" }, mediaCell(e)))))));
  const rows = [...table.querySelectorAll("tbody tr")];
  // The uploads' thumbnails, once the media they name are read.
  const named = detail.entries.flatMap((e) => e.mediaIds ?? []);
  if (named.length) {
    ensureMedia(named).then(() => detail.entries.forEach((e, i) => {
      if (e.mediaIds?.length) fill(rows[i].querySelector(".media"), mediaCell(e));
    }), () => {});
  }
  // Filters and selection: what is shown, and what of it is chosen.
  const channels = [...new Set(detail.entries.map((e) => e.channel))];
  const byChannel = h("select", { id: "filter-channel" }, h("option", { value: "" }, t("publishing.allChannels")),
    channels.map((c) => h("option", { value: c }, platformName(c))));
  const readyOnly = h("input", { type: "checkbox", id: "filter-ready" });
  const byStatus = h("select", { id: "filter-status" }, h("option", { value: "" }, t("publishing.allStatuses")),
    ENTRY_STATUSES.map((s) => h("option", { value: s }, t(`status.${s}`))));
  const statusOf = (e) => detail.statusByEntry?.get(e.id) ?? "unsent";
  const count = h("span", { id: "selected-count", class: "muted", "aria-live": "polite" });
  const counted = () => { count.textContent = t("publishing.selected", { count: boxes.filter((b) => b.checked).length }); };
  // The entries the filters keep, a page of them shown at a time.
  let matching = detail.entries.map(() => true);
  const pager = paged(rows, table);
  const filter = () => {
    matching = detail.entries.map((e) => !((byChannel.value && e.channel !== byChannel.value) || (readyOnly.checked && !hasMedia(e))
      || (byStatus.value && statusOf(e) !== byStatus.value)));
    matching.forEach((yes, i) => { if (!yes) boxes[i].checked = false; });
    pager.show(matching);
    counted();
  };
  for (const control of [byChannel, readyOnly, byStatus]) control.addEventListener("change", () => { pager.first(); filter(); });
  boxes.forEach((b) => b.addEventListener("change", counted));
  // Every entry the filters keep, on every page.
  const selectAll = h("button", { type: "button", class: "link", id: "select-all", onclick: () => { boxes.forEach((b, i) => { b.checked = matching[i]; }); counted(); } }, t("publishing.selectAll"));
  const selectNone = h("button", { type: "button", class: "link", id: "select-none", onclick: () => { boxes.forEach((b) => { b.checked = false; }); counted(); } }, t("publishing.selectNone"));
  const chosen = () => detail.entries.filter((e, i) => boxes[i].checked);
  pager.show(matching);
  counted();
  const some = detail.entries.length > 0;
  return {
    count,
    chosenIds: () => chosen().map((e) => e.id),
    /** Nothing chosen any more (once an action is done with the choice). */
    clear() {
      boxes.forEach((b) => { b.checked = false; });
      counted();
    },
    el: [
      some ? h("div", { class: "row", id: "entry-tools" }, selectAll, selectNone,
        field(t("publishing.channel"), byChannel), field(t("publishing.status"), byStatus),
        h("label", { class: "check" }, readyOnly, t("publishing.readyOnly")), pager.el) : null,
      some ? h("p", { class: "muted", id: "entries-zone" }, t("calendar.timesIn", { zone: zoneOf(detail) })) : null,
      some ? table : h("p", { class: "muted" }, t("publishing.noEntries")),
      some ? bulkMedia(calendarId, detail, chosen, rows) : null,
    ],
    /** The intents' list tells each entry's status: shown in its row, and filtered on. */
    update() {
      detail.entries.forEach((e, i) => {
        const badge = rows[i].querySelector(".entry-status");
        const status = statusOf(e);
        badge.dataset.status = status;
        badge.textContent = t(`status.${status}`);
        badge.className = `badge entry-status ${status === "published" ? "ok" : ["failed", "unconfirmed"].includes(status) ? "bad" : ""}`;
      });
      filter();
    },
  };
}

/** Pages `rows` (of `table`): `show(matching)` shows the page's rows of those matching,
 * with Previous, Next and where it is; `first()` goes back to the first page. */
function paged(rows, table) {
  let page = 0;
  let matching = rows.map(() => true);
  const el = h("div", { class: "row pager", id: "entries-pager" });
  const show = (next = matching) => {
    matching = next;
    const kept = matching.flatMap((yes, i) => (yes ? [i] : []));
    const pages = Math.max(1, Math.ceil(kept.length / PAGE));
    page = Math.min(page, pages - 1);
    const shown = new Set(kept.slice(page * PAGE, (page + 1) * PAGE));
    rows.forEach((row, i) => { row.hidden = !shown.has(i); });
    const turn = (step) => () => { page += step; show(); table.scrollIntoView({ block: "nearest" }); };
    el.hidden = kept.length <= PAGE;
    el.replaceChildren(
      h("button", { type: "button", class: "secondary", id: "page-prev", disabled: page === 0, onclick: turn(-1) }, t("publishing.pagePrev")),
      h("span", { class: "muted", id: "page-at" }, t("publishing.pageAt", { from: page * PAGE + 1, to: Math.min((page + 1) * PAGE, kept.length), count: kept.length })),
      h("button", { type: "button", class: "secondary", id: "page-next", disabled: page >= pages - 1, onclick: turn(1) }, t("publishing.pageNext")));
  };
  return { el, show, first: () => { page = 0; } };
}

/** One media address for every selected entry. */
function bulkMedia(calendarId, detail, chosen, rows) {
  const input = h("input", { type: "url", id: "bulk-media", placeholder: "https://…" });
  const apply = h("button", { type: "button", class: "secondary", id: "apply-media", "data-needs": "editor" }, t("publishing.applyMedia"));
  apply.addEventListener("click", async () => {
    const entries = chosen();
    if (!entries.length) return toast(t("publishing.selectOne"));
    try {
      let set = 0;
      for (const entry of entries) {
        const saved = await setMedia(calendarId, entry, input.value.trim());
        if (!saved) continue;
        Object.assign(entry, saved);
        fill(rows[detail.entries.indexOf(entry)].querySelector(".media"), mediaCell(entry));
        set += 1;
      }
      if (set) toast(t("publishing.mediaSet", { count: set }));
    } catch (error) {
      showProblem(error, { fields: { mediaUrl: input } });
    }
  });
  return h("div", { class: "row" }, field(t("publishing.mediaForSelected"), input), apply);
}

/** Sets `entry`'s media address at the version shown (`If-Match`). A teammate's change
 * meanwhile that left its media as it was is no conflict (set again at their version); one
 * that changed its media is kept, and said. The entry as saved, or null. */
async function setMedia(calendarId, entry, url) {
  const path = `/v1/calendars/${calendarId}/entries/${entry.id}`;
  try {
    return await api("PATCH", path, { mediaUrl: url }, atVersion(entry.version));
  } catch (error) {
    const current = error.code === "EDIT_CONFLICT" ? error.details?.current : null;
    if (!current) throw error;
    if ((current.mediaUrl ?? "") === (entry.mediaUrl ?? "")) return api("PATCH", path, { mediaUrl: url }, atVersion(current.version));
    Object.assign(entry, current);
    toast(t("live.movedByOther", { who: who(error.details.changedBy?.userId, error.details.changedBy) }));
    return null;
  }
}

/** The entry has something to post with it: uploads, or a media address. */
const hasMedia = (entry) => entry.mediaIds?.length > 0 || Boolean(entry.mediaUrl);

/** An entry's media: its first upload's thumbnail and how many it names (the uploads are
 * what is sent), else its address, else a warning that it has none. */
function mediaCell(entry) {
  const ids = entry.mediaIds ?? [];
  if (ids.length) {
    return h("span", { class: "row media-named" }, thumbnail(ids[0]),
      h("span", { class: "muted media-count" }, t("publishing.mediaCount", { count: ids.length })));
  }
  return entry.mediaUrl ? h("span", { class: "muted", title: entry.mediaUrl }, entry.mediaUrl) : h("span", { class: "badge warn" }, t("publishing.noMedia"));
}
