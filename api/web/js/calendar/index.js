// Content calendars (seed 000): a request form, the month or week grid filling entry by
// entry from the run's event stream (the page stays usable meanwhile), edits and moves,
// Continue for a plan that stopped at the time limit, regeneration with a diff to accept,
// exports. A reload restores the calendar, resumes a running stream from the last event it
// saw, and reopens a proposal still waiting for an answer.

import { h, fill } from "../ui.js";
import { t } from "../i18n.js";
import { showProposal } from "./diff.js";
import { entryEditor, mover, moveEntry, openEditor } from "./editor.js";
import { CalendarGrid } from "./grid.js";
import { headView } from "./head.js";
import { renderList } from "./list.js";
import { leave, recall, reload, showing } from "./page.js";
import { requestForm } from "./request.js";
import { stream } from "./run.js";
import { regenerates } from "./runs.js";
import { queueButton } from "./queue.js";
import { newPostButton, postComposer } from "./post.js";
import { goLive } from "./live.js";
import { api, people, session } from "../api.js";

export { leave };

export async function show(view, [id]) {
  leave();
  const list = h("div", { class: "panel", id: "calendar-list" }, h("p", { class: "muted" }, t("app.loading")));
  const main = h("div", { class: "stack", id: "calendar-main" });
  fill(view, h("h1", {}, t("calendar.title")), h("div", { class: "split calendar-page" }, list, main));
  const reopen = (calendarId) => show(document.getElementById("view"), [calendarId]);
  if (id === "new") {
    renderList(list, null);
    main.append(await requestForm(null, null, reopen));
    return;
  }
  // The Calendar section opens on the calendar opened last (while it is still there).
  const shown = id ?? await lastOpened();
  renderList(list, shown);
  if (shown) {
    localStorage.setItem(lastKey(), shown);
    if (!id) history.replaceState(null, "", `#/calendar/${shown}`);
    await openCalendar(main, shown, reopen);
  } else main.append(await requestForm(null, null, reopen));
}

/** Where the calendar this person opened last is remembered, on this device. */
const lastKey = () => `almanac.lastCalendar.${session.user ?? ""}`;

/** The calendar this person opened last, if it is still theirs to open. */
async function lastOpened() {
  const id = localStorage.getItem(lastKey());
  if (!id) return null;
  try {
    await api("GET", `/v1/calendars/${id}`);
    return id;
  } catch {
    localStorage.removeItem(lastKey());
    return null;
  }
}

async function openCalendar(main, id, reopen) {
  const state = { id, source: null, detail: null, run: null };
  showing(state);
  state.grid = new CalendarGrid({
    // A post's entry opens its post: one composer for every network.
    onOpen: (key) => {
      const post = state.grid.get(key)?.postId;
      return post ? state.openPost(post) : openEditor(state, key);
    },
    onMove: (key, date, time) => moveEntry(state, key, date, time),
    actions: () => [newPostButton(state), queueButton(state)],
  });
  state.head = headView(state, reopen);
  const diff = h("div", { id: "diff" });
  state.els = { ...state.head.els, diff, main };
  fill(main, state.head.el, diff, state.grid.el, entryEditor(state), mover(state), postComposer(state));
  // Live first, then the calendar: what changes after `ready` arrives on the stream, so
  // nothing is missed between the two. Without the stream (Redis away), read it anyway.
  people.load().catch(() => {});
  await new Promise((opened) => {
    let first = true;
    const source = goLive(state, () => {
      if (first) opened();
      else reload(state).catch(() => {});
      first = false;
    });
    source.addEventListener("error", () => opened(), { once: true });
  });
  await reload(state);
  const latest = state.detail.runs[0];
  const remembered = recall(id);
  // A run still going: resume its stream (from the last event this tab saw, after a reload).
  if (latest?.jobId && ["pending", "running"].includes(latest.status)) {
    const run = remembered?.jobId === latest.jobId ? remembered
      : { jobId: latest.jobId, runId: latest.id, mode: latest.mode, regenerate: regenerates(latest) };
    stream(state, run);
  } else if (state.detail.pendingRun) {
    // A proposal nobody answered yet, on this device or another.
    await showProposal(state, state.detail.pendingRun.runId);
  }
}
