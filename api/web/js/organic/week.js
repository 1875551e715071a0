// The week: one row per day, the day's placements side by side, and where a placement
// that could not be made says why.

import { h, platformBadge } from "../ui.js";
import { t, formatTime, formatDay } from "../i18n.js";
import { editPlacement } from "./editor.js";

/** The week's rows; `update(placement)` shows a placement's card (new, or in place of its
 * earlier one). */
export function weekView(board) {
  const { state, days } = board;
  const columns = new Map(days.map((d) => [d, h("div", { class: "cards" })]));
  const rows = days.map((d) => h("section", { class: "day-row", dataset: { day: d } },
    h("h3", {}, formatDay(d, { weekday: "long" }), h("span", { class: "muted" }, formatDay(d, { day: "numeric", month: "short" }))),
    columns.get(d)));
  const errors = h("div", { id: "placement-errors" });
  // Every time on the week is the brand's, and says so.
  const el = h("div", { class: "week-rows", id: "week" },
    h("p", { class: "muted", id: "week-zone" }, t("calendar.timesIn", { zone: board.brand.timezone })), rows);
  const view = {
    el,
    errors,
    update(p) {
      const column = columns.get(p.schedule.dayId);
      if (!column) return;
      const tiers = ["high", "medium", "low"].filter((tier) => p.copy.hashtags[tier]?.length);
      const assets = p.creative.assetIds.map((id) => state.assets.find((a) => a.id === id)?.title).filter(Boolean);
      const card = h("article", { class: `card placement${p.edited ? " edited" : ""}`, dataset: { placement: p.placementId } },
        h("div", { class: "row card-head" },
          platformBadge(p.platform.name), h("span", { class: "time" }, p.schedule.timeLabel ?? formatTime(p.schedule.timeOfDay ?? "")),
          p.schedule.adjusted ? h("span", { class: "badge warn", title: t("organic.adjustedHint") }, t("organic.adjusted")) : null,
          p.auto ? h("span", { class: "badge", title: t("organic.autoHint") }, t("organic.auto")) : null,
          p.edited ? h("span", { class: "badge edited" }, t("calendar.edited")) : null,
          h("button", { type: "button", class: "link edit-placement", "aria-label": t("organic.editPlacementLabel", { title: p.content.titleTopic }), onclick: () => editPlacement(board, p, view) }, t("organic.edit"))),
        h("h4", { class: "title" }, p.content.titleTopic),
        h("p", { class: "caption" }, p.copy.caption),
        tiers.length ? h("div", { class: "tiers" }, tiers.map((tier) => h("div", { class: `tier ${tier}` },
          h("span", { class: "muted" }, t(`organic.tier.${tier}`)), " ",
          p.copy.hashtags[tier].map((tag) => h("span", { class: "tag" }, tag))))) : null,
        assets.length ? h("div", { class: "muted assets" }, t("organic.assetsUsed", { assets: assets.join(", ") })) : null);
      const existing = el.querySelector(`[data-placement="${CSS.escape(p.placementId)}"]`);
      if (existing) existing.replaceWith(card); else column.append(card);
    },
    /** The errors of an earlier generation, gone. */
    clearErrors() {
      errors.replaceChildren();
      for (const column of columns.values()) column.querySelectorAll(".card.error").forEach((c) => c.remove());
    },
    /** A placement that could not be made, on its day (beside the posts that did go out). */
    addError(dayId, card) {
      const column = dayId && columns.get(dayId);
      if (column) column.append(card); else errors.append(card);
    },
  };
  return view;
}
