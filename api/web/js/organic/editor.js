// A placement opened to edit: its caption, hashtags by tier and time (the brand's zone),
// counted against its platform's limits as a person types.

import { api } from "../api.js";
import { h, field, toast, day, showProblem, guardUnsaved, words } from "../ui.js";
import { compose, textCounter } from "../limits.js";
import { channelLabel } from "../platforms.js";
import { t } from "../i18n.js";
import { zonedToUtc, zonedTime } from "./common.js";

/** Opens placement `p` of `board`'s week; a save shows the saved card in `week`. */
export async function editPlacement(board, p, week) {
  const { brand, state } = board;
  const local = zonedTime(p.schedule.scheduledAt, brand.timezone);
  const controls = {
    caption: h("textarea", { name: "caption", rows: 5, maxlength: 2200, value: p.copy.caption }),
    high: h("input", { name: "high", value: (p.copy.hashtags.high ?? []).join(" ") }),
    medium: h("input", { name: "medium", value: (p.copy.hashtags.medium ?? []).join(" ") }),
    low: h("input", { name: "low", value: (p.copy.hashtags.low ?? []).join(" ") }),
    time: h("input", { name: "time", type: "time", value: local }),
  };
  const problem = h("div");
  // The caption and every tier's hashtags, a blank line apart, against the platform's limit.
  const tags = () => [controls.high, controls.medium, controls.low].flatMap((c) => words(c.value));
  const live = await textCounter(p.platform.name, p.content.format, () => ({ text: compose(controls.caption.value, "", tags()), title: p.content.titleTopic }));
  for (const control of [controls.caption, controls.high, controls.medium, controls.low]) control.addEventListener("input", live.update);
  const dialog = h("dialog", { id: "placement-editor", "aria-labelledby": "placement-editor-title" },
    h("form", { method: "dialog", class: "stack" },
      h("h2", { id: "placement-editor-title" }, p.content.titleTopic),
      h("p", { class: "muted" }, `${channelLabel(p.platform.name)} · ${day(p.schedule.dayId)}`),
      field(t("organic.caption"), controls.caption),
      h("div", { class: "row" }, field(t("organic.tier.high"), controls.high), field(t("organic.tier.medium"), controls.medium), field(t("organic.tier.low"), controls.low)),
      live.el,
      field(t("organic.timeIn", { zone: brand.timezone }), controls.time),
      h("p", { class: "hint" }, t("organic.editKept")),
      problem,
      h("div", { class: "row" },
        h("button", { type: "submit", id: "placement-save", "data-needs": "editor" }, t("common.save")),
        h("button", { type: "button", class: "secondary", id: "placement-close" }, t("common.close")))));
  document.body.append(dialog);
  const values = () => JSON.stringify(Object.values(controls).map((c) => c.value));
  let initial = values();
  guardUnsaved(dialog, () => values() !== initial, dialog.querySelector("#placement-close"));
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      caption: controls.caption.value,
      hashtags: { high: words(controls.high.value), medium: words(controls.medium.value), low: words(controls.low.value) },
    };
    if (controls.time.value && controls.time.value !== local) {
      body.scheduledAt = zonedToUtc(p.schedule.dayId, controls.time.value.slice(0, 5), brand.timezone).toISOString();
    }
    const saveButton = dialog.querySelector("#placement-save");
    saveButton.disabled = true;
    try {
      const saved = await api("PATCH", `/api/organic/brands/${encodeURIComponent(brand.id)}/placements/${encodeURIComponent(p.placementId)}?weekStart=${state.weekStart}`, body);
      week.update(saved);
      initial = values();
      dialog.close();
      toast(t("organic.placementSaved"));
    } catch (error) {
      showProblem(error, { root: dialog, problem, fields: { caption: controls.caption, scheduledAt: controls.time, hashtags: controls.high } });
    } finally {
      saveButton.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
}
