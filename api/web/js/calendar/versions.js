// An entry's two versions when a save met a teammate's change (412 `EDIT_CONFLICT`): what
// was typed and what they saved, field by field where they differ, with who and when, and
// the choice: "Keep mine" saves this one over theirs, "Take theirs" shows theirs.

import { h } from "../ui.js";
import { t, formatZoned } from "../i18n.js";
import { who } from "../people.js";

const FIELDS = [
  ["title", "calendar.entryTitle"], ["caption", "calendar.caption"], ["hashtags", "calendar.hashtags"],
  ["callToAction", "calendar.callToAction"], ["date", "calendar.date"], ["time", "calendar.time"],
];

/** A value as the table shows it. */
function shown(value) {
  return (Array.isArray(value) ? value.join(" ") : String(value ?? "")).trim() || t("live.empty");
}

/** The panel's content for `{current, changedBy, changedAt}` against `mine` (the patch that
 * was refused); `keep()` and `take()` answer the choice. */
export function versions({ current, changedBy, changedAt }, mine, keep, take) {
  const name = who(changedBy?.userId, changedBy);
  const theirs = (key) => (key === "time" ? String(current.time ?? "").slice(0, 5) : current[key]);
  const rows = FIELDS.filter(([key]) => shown(mine[key]) !== shown(theirs(key)));
  return [
    h("h3", {}, t("live.conflictTitle", { who: name, when: changedAt ? formatZoned(changedAt) : "" })),
    h("p", {}, t("live.conflictHint")),
    h("div", { class: "table-wrap" }, h("table", { class: "versions" },
      h("thead", {}, h("tr", {}, h("th", {}, t("live.field")), h("th", {}, t("live.yours")), h("th", {}, t("live.theirs")))),
      h("tbody", {}, rows.map(([key, label]) => h("tr", { "data-field": key },
        h("th", { scope: "row" }, t(label)),
        h("td", { class: "mine" }, shown(mine[key])),
        h("td", { class: "theirs" }, shown(theirs(key)))))))),
    h("div", { class: "row" },
      h("button", { type: "button", id: "entry-keep-mine", onclick: keep }, t("live.keepMine")),
      h("button", { type: "button", class: "secondary", id: "entry-take-theirs", onclick: take }, t("live.takeTheirs"))),
  ];
}
