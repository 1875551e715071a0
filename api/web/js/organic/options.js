// The week's options (a schedule preset, the newsletter, the language, guidance, whether
// regenerating overwrites edits) and its draft on the server: the seeds and options as
// they are, saved a moment after each change and restored as they were left, here or on
// another device. "Saved" is said only of what the server took; a refusal says why.

import { api } from "../api.js";
import { h, check, explain, fieldError, clearProblems } from "../ui.js";
import { t } from "../i18n.js";
import { page, select, zonedTime } from "./common.js";

/** The options' controls; `chosen()` as the request sends them. */
export function optionsView() {
  const controls = {
    preset: select("schedulePreset", [["", t("organic.presetNone")], ["beta-launch", t("organic.presetBeta")]], ""),
    newsletter: check(t("organic.newsletter"), { name: "includeNewsletter" }),
    language: h("input", { name: "language", value: navigator.language || "en-US" }),
    guidance: h("textarea", { name: "guidancePrompt", rows: 2 }),
    overwrite: check(t("organic.overwrite"), { name: "overwriteEdited" }),
  };
  const chosen = () => {
    const options = {
      includeNewsletter: controls.newsletter.querySelector("input").checked,
      language: controls.language.value.trim() || undefined,
      guidancePrompt: controls.guidance.value.trim() || undefined,
      overwriteEdited: controls.overwrite.querySelector("input").checked,
    };
    if (controls.preset.value) options.schedulePreset = controls.preset.value;
    return options;
  };
  const restore = (options) => {
    if (options.schedulePreset) controls.preset.value = options.schedulePreset;
    if (options.includeNewsletter) controls.newsletter.querySelector("input").checked = true;
    if (options.overwriteEdited) controls.overwrite.querySelector("input").checked = true;
    if (options.language) controls.language.value = options.language;
    if (options.guidancePrompt) controls.guidance.value = options.guidancePrompt;
  };
  return { controls, chosen, restore };
}

/** The week's draft: `save()` after a change, `restore(add)` what the server keeps (each
 * seed through `add(seed, time)`), `status` what became of the last save. */
export function draftKeeper(board, options) {
  const { state, brand, seeds } = board;
  const path = `/api/organic/brands/${encodeURIComponent(brand.id)}/weeks/${state.weekStart}/draft`;
  const status = h("span", { class: "hint", id: "draft-status", "aria-live": "polite" });
  const { controls } = options;
  let timer = null;
  let restoring = false;
  let failed = false;
  page.draftUnsaved = () => timer !== null || failed;
  const save = () => {
    if (restoring) return;
    clearTimeout(timer);
    status.textContent = t("organic.draftSaving");
    status.classList.remove("bad");
    timer = setTimeout(async () => {
      const fields = { "options.language": controls.language, "options.guidancePrompt": controls.guidance, "options.schedulePreset": controls.preset };
      for (const control of Object.values(fields)) clearProblems(control.closest("label"));
      try {
        await api("PUT", path, { placements: seeds, options: options.chosen() });
        failed = false;
        status.textContent = t("organic.draftSaved");
      } catch (error) {
        failed = true;
        status.textContent = t("organic.draftNotSaved", { reason: explain(error) });
        status.classList.add("bad");
        // And at the option it is about, when it is one of these.
        const control = fields[error?.details?.field];
        if (control) fieldError(control, explain(error));
      } finally {
        timer = null;
      }
    }, 300);
  };
  for (const control of Object.values(controls)) control.addEventListener("change", save);
  const restore = async (add) => {
    const draft = await api("GET", path);
    restoring = true;
    try {
      for (const seed of draft.placements) {
        const time = zonedTime(seed.scheduledAt, brand.timezone);
        add(Object.fromEntries(Object.entries(seed).filter(([, v]) => v !== null && v !== undefined)), time);
      }
      options.restore(draft.options ?? {});
      if (draft.updatedAt) status.textContent = t("organic.draftRestored");
    } finally {
      restoring = false;
    }
  };
  return { status, save, restore };
}
