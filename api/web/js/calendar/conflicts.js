// Conflicts: two posts of one channel closer than `CONFLICT_MINUTES` are both marked.

import { t } from "../i18n.js";
import { minutesOf } from "./dates.js";

/** Two posts of one channel closer than this are marked as a conflict. */
export const CONFLICT_MINUTES = 30;

/** Marks every entry less than 30 minutes from another of its channel. */
export function markConflicts(entries, body) {
  const byChannel = new Map();
  for (const e of entries.values()) {
    if (!byChannel.has(e.channel)) byChannel.set(e.channel, []);
    byChannel.get(e.channel).push([minutesOf(e), e.key]);
  }
  const close = new Set();
  for (const list of byChannel.values()) {
    list.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++) {
      if (list[i][0] - list[i - 1][0] < CONFLICT_MINUTES) { close.add(list[i][1]); close.add(list[i - 1][1]); }
    }
  }
  for (const chip of body.querySelectorAll(".chip")) {
    const conflict = close.has(chip.dataset.key);
    chip.classList.toggle("conflict", conflict);
    chip.title = conflict ? t("calendar.tooClose", { minutes: CONFLICT_MINUTES }) : "";
  }
}
