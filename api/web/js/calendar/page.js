// The calendar being shown, what a reload of it reads, and what survives a page reload: the
// running job of a calendar and the last event this tab saw of it.

import { api } from "../api.js";
import { renderList } from "./list.js";
import { ensureMedia } from "../media.js";

let shown = null;

/** `state` is now the calendar shown (a later one replaces it). */
export function showing(state) {
  shown = state;
}

export const isShown = (state) => shown === state;

export function leave() {
  shown?.source?.close();
  shown?.live?.close();
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

/** The numbers of the calendar's published entries, by entry id: of the posts published in
 * the last year (an entry may go out long before its day). */
async function loadNumbers(detail) {
  const numbers = new Map();
  if (!detail.entries.length) return numbers;
  const today = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 365 * 86_400_000).toISOString().slice(0, 10);
  const { items } = await api("GET", `/v1/analytics/posts?from=${from}&to=${today}`);
  const ids = new Set(detail.entries.map((e) => e.id));
  for (const post of items) if (post.entryId && ids.has(post.entryId) && !numbers.has(post.entryId)) numbers.set(post.entryId, post);
  return numbers;
}

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
  // Published entries show their numbers on their chips and in their dialog.
  loadNumbers(detail).then((numbers) => {
    if (!numbers.size || !isShown(state)) return;
    state.grid.numbers = numbers;
    state.grid.render();
  }, () => {});
  // Chips with media show a thumbnail once the media they name are read (however old).
  const named = detail.entries.flatMap((e) => e.mediaIds ?? []);
  if (named.length) {
    ensureMedia(named).then(() => { if (isShown(state)) state.grid.render(); }, () => {});
  }
}
