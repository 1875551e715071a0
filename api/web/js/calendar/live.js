// A calendar, live (`GET /v1/calendars/{id}/live`): a teammate's edit appears in every open
// copy without a reload, the header shows who else is looking (their initials), and an
// entry open in the editor is never overwritten by a change made meanwhile: the editor says
// so, and saving shows both versions (`editor.js`). `EventSource` resumes by itself after a
// dropped connection; a fresh connection (`ready`) reads the calendar again, so nothing
// that changed meanwhile is missed. A review asked for or decided shows at once too, and so
// does a comment on the entry open.

import { session, initials } from "../api.js";
import { who } from "../people.js";
import { h } from "../ui.js";
import { t } from "../i18n.js";
import { reload, isShown } from "./page.js";

/** Opens the live stream of the calendar `state` shows; `ready()` is called once it is
 * open (each time it opens afresh), when the calendar should be read. */
export function goLive(state, ready) {
  const source = new EventSource(`/v1/calendars/${state.id}/live`);
  state.live = source;
  const on = (type, handler) => source.addEventListener(type, (event) => {
    if (event.data === undefined || !isShown(state)) return;
    let data;
    try { data = JSON.parse(event.data); } catch { return; }
    handler(data);
  });
  on("ready", () => ready());
  on("truncated", () => reloadSoon(state));
  on("calendar.changed", () => reloadSoon(state));
  on("entry.changed", (change) => applyChange(state, change));
  on("entry.review", (change) => applyReview(state, change));
  on("comment.added", (change) => state.commentAdded?.(change));
  on("comment.changed", (change) => state.commentChanged?.(change));
  on("presence", (presence) => showPresence(state, presence.viewers ?? []));
  return source;
}

/** Reads the calendar again, once for a burst of changes. */
function reloadSoon(state) {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => { if (isShown(state)) reload(state).catch(() => {}); }, 300);
}

/** The entry `id` names, as the grid holds it. */
function entryWithId(state, id) {
  for (const entry of state.grid.entries.values()) if (entry.id === id) return entry;
  return null;
}

/** An entry added, edited or deleted by anyone: shown at once, unless the grid already
 * holds that version or a later one (this tab's own save). The editor open on it is told,
 * never overwritten. */
export function applyChange(state, change) {
  const shown = entryWithId(state, change.entryId);
  if (change.change === "deleted") {
    if (shown) state.grid.remove(shown.key);
  } else if (!change.entry) {
    return reloadSoon(state);
  } else if (!shown || (shown.version ?? 0) < change.version) {
    if (shown && shown.key !== change.entry.key) state.grid.remove(shown.key);
    state.grid.upsert(change.entry);
  } else {
    return;
  }
  if (state.editingId === change.entryId && change.by?.userId !== session.user) state.editorChanged?.(change);
}

/** An entry's review asked for or decided by anyone: its chip and, when open, its dialog
 * show it at once (the review alone: the entry's words are not touched). */
export function applyReview(state, change) {
  const shown = entryWithId(state, change.entryId);
  if (!shown || !change.review) return;
  state.grid.upsert({ ...shown, review: change.review });
  if (state.editingId === change.entryId) state.reviewShown?.({ ...shown, review: change.review });
}

/** The initials of the others looking at the calendar, in its header. */
export function showPresence(state, viewers) {
  const list = state.head?.els?.presence;
  if (!list) return;
  const others = viewers.filter((v) => v.userId !== session.user);
  list.hidden = others.length === 0;
  list.replaceChildren(...others.map((v) => {
    const name = who(v.userId, v);
    return h("li", { class: "avatar", title: t("live.looking", { who: name }), "data-user": v.userId },
      h("span", { "aria-hidden": "true" }, initials(name)),
      h("span", { class: "sr-only" }, name));
  }));
}
