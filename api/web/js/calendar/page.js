// The calendar being shown, what a reload of it reads, and what survives a page reload: the
// running job of a calendar and the last event this tab saw of it.

import { api } from "../api.js";
import { renderList } from "./list.js";
import { loadMedia } from "../media.js";

let shown = null;

/** `state` is now the calendar shown (a later one replaces it). */
export function showing(state) {
  shown = state;
}

export const isShown = (state) => shown === state;

export function leave() {
  shown?.source?.close();
  shown = null;
}

// What a reload needs to resume: the running job of a calendar and the last event seen.
export const runKey = (calendarId) => `almanac.run.${calendarId}`;
export function remember(calendarId, run) { sessionStorage.setItem(runKey(calendarId), JSON.stringify(run)); }
export function recall(calendarId) {
  try { return JSON.parse(sessionStorage.getItem(runKey(calendarId))); } catch { return null; }
}

export function forget(calendarId) {
  sessionStorage.removeItem(runKey(calendarId));
}

export const lastEventKey = (jobId) => `almanac.lastEvent.${jobId}`;

export async function reload(state) {
  const detail = await api("GET", `/v1/calendars/${state.id}`);
  if (!isShown(state)) return;
  state.detail = detail;
  // The list beside it says how many entries and which version: kept current.
  const list = document.getElementById("calendar-list");
  if (list) renderList(list, state.id);
  state.head.update(detail);
  state.grid.setRequest(detail.calendar.request);
  state.grid.reset(detail.entries);
  // Chips with media show a thumbnail once the library is read.
  if (detail.entries.some((e) => e.mediaIds?.length)) {
    loadMedia().then(() => { if (isShown(state)) state.grid.render(); }, () => {});
  }
}
