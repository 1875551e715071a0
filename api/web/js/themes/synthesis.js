// "Synthesise now", followed as it goes; the theme's syntheses below it.

import { api, follow } from "../api.js";
import { h, showError, progressText } from "../ui.js";
import { t } from "../i18n.js";
import { renderSyntheses } from "./history.js";

let source = null;

/** Stops following a synthesis (the page is left, or another starts). */
export function stopFollowing() {
  source?.close();
  source = null;
}

/** The button, its progress and status, and the list; `update()` reads the list again. */
export function synthesisView(themeId) {
  const progress = h("progress", { id: "synthesis-progress", max: 100, value: 0, hidden: true, "aria-label": t("themes.synthesisProgress") });
  const status = h("p", { id: "synthesis-status", role: "status", "aria-live": "polite" });
  const syntheses = h("div", { id: "syntheses" });
  const update = () => renderSyntheses(syntheses, themeId);
  const now = h("button", { type: "button", id: "synthesise" }, t("themes.synthesise"));
  now.addEventListener("click", async () => {
    now.disabled = true;
    try {
      const accepted = await api("POST", `/api/v1/themes/${themeId}/syntheses`);
      progress.hidden = false;
      stopFollowing();
      source = follow(accepted.job_id, {
        on: {
          progress: (e) => { if (e.percent !== undefined) progress.value = e.percent; status.textContent = progressText(e) || status.textContent; },
          done: async (e) => {
            progress.hidden = true;
            now.disabled = false;
            status.textContent = e.status === "succeeded" ? t("themes.synthesisReady") : t("themes.synthesisEnded", { status: t(`status.${e.status}`), reason: e.error?.message ?? "" });
            await update();
          },
        },
      });
    } catch (error) { now.disabled = false; showError(error, status); }
  });
  return {
    el: h("section", { class: "panel stack" }, h("h3", {}, t("themes.synthesis")), now, progress, status, syntheses),
    update,
  };
}
