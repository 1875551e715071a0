// What the organic section's views share: the page's own state (a running generation, an
// unsaved draft), small controls, and times in a brand's zone.

import { h } from "../ui.js";

/** The page: the generation under way (to stop on leaving) and whether the week's draft
 * holds a change the server has not taken yet. */
export const page = { abort: null, draftUnsaved: () => false };

export const select = (name, options, value) => h("select", { name },
  options.map((o) => (Array.isArray(o) ? o : [o, o])).map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
export const opt = (text) => (text.trim() ? text.trim() : undefined);

/** `9:00 AM` on `2026-01-26` in `timeZone` as a UTC instant. */
export function zonedToUtc(dayId, time, timeZone) {
  const guess = new Date(`${dayId}T${time}:00Z`);
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(guess);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const shown = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"));
  return new Date(guess.getTime() - (shown - guess.getTime()));
}

/** An instant's `HH:MM` in `timeZone` (the brand's). */
export function zonedTime(iso, timeZone) {
  return new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

export function timeLabel(time) {
  const [hours, minutes] = time.split(":").map(Number);
  return `${((hours + 11) % 12) + 1}:${String(minutes).padStart(2, "0")} ${hours < 12 ? "AM" : "PM"}`;
}

export const weekDays = (weekStart) => Array.from({ length: 7 }, (_, i) =>
  new Date(Date.parse(`${weekStart}T00:00:00Z`) + i * 86400e3).toISOString().slice(0, 10));
