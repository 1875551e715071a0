// Generate: the week's request sent, its NDJSON stream shown as it comes (progress, each
// placement on its day, each failure in words under the seed it is about, the counts).

import { ndjson } from "../api.js";
import { h, day, explain, progressText } from "../ui.js";
import { channelLabel } from "../platforms.js";
import { t, has, formatTime } from "../i18n.js";
import { chosenAccounts } from "./accounts.js";
import { page } from "./common.js";

/** The Generate button with its progress and status; `update()` after the seeds changed
 * (Generate waits for the first one, and says so). */
export function generateView(board, week, options) {
  const { state, brand, seeds } = board;
  const button = h("button", { type: "button", id: "generate-week", disabled: true, "aria-describedby": "seeds-needed" }, t("organic.generate"));
  const seedsNeeded = h("p", { class: "hint", id: "seeds-needed" }, t("organic.seedsNeeded"));
  const progress = h("progress", { id: "organic-progress", max: 1, value: 0, hidden: true, "aria-label": t("common.generationProgress") });
  const status = h("p", { id: "organic-status", role: "status", "aria-live": "polite" });
  const update = () => {
    button.disabled = seeds.length === 0;
    seedsNeeded.hidden = seeds.length > 0;
  };
  const line = (event) => {
    if (event.type === "progress") {
      if (event.total) { progress.max = event.total; progress.value = event.completed; }
      status.textContent = progressText(event) || status.textContent;
    } else if (event.type === "placement") {
      week.update(event.placement);
    } else if (event.type === "error") {
      // Said in words, under the seed it is about (its trend and day), never as a code.
      const seed = seeds.find((x) => x.placementId === event.placementId);
      const trend = seed && state.trends.find((x) => x.id === seed.trendId);
      const about = seed ? `${trend?.title ?? ""} · ${day(seed.dayId)} ${formatTime(seed.time)}` : "";
      const said = has(`errors.code.${event.code}`)
        ? t(`errors.code.${event.code}`, { platform: channelLabel(seed?.platform ?? "") })
        : event.message;
      const card = h("article", { class: "card error", role: "alert", dataset: { error: event.code, errorFor: event.placementId } },
        about ? h("strong", {}, about) : null, h("div", {}, said));
      week.addError(seed?.dayId, card);
    } else if (event.type === "complete") {
      const c = event.counts ?? {};
      status.textContent = t("organic.complete", { status: t(`status.${event.status}`), placements: c.placements ?? 0, autoFilled: c.autoFilled ?? 0, adjusted: c.adjusted ?? 0, errors: c.errors ?? 0 });
      status.dataset.state = event.status;
    }
  };
  button.addEventListener("click", async () => {
    const chosen = chosenAccounts(state.board);
    const body = {
      brandProfileId: brand.id, weekStart: state.weekStart, timezone: brand.timezone,
      platformAccountIds: Object.fromEntries(chosen),
      placements: seeds,
      options: { ...options.chosen(), preferredPlatforms: [...new Set(chosen.map(([platform]) => platform))] },
    };
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    week.clearErrors();
    status.textContent = t("common.generating");
    delete status.dataset.state;
    page.abort = new AbortController();
    try {
      await ndjson("/api/organic/generate-calendar", body, line, page.abort.signal);
      if (status.textContent === t("common.generating")) status.textContent = "";
    } catch (error) {
      if (error.name === "AbortError") return;
      // Nothing is being generated any more: the status says what failed, in words.
      status.textContent = t("organic.generationFailed", { reason: explain(error) });
      status.dataset.state = "failed";
    } finally {
      update();
      progress.hidden = true;
    }
  });
  return { button, seedsNeeded, progress, status, update };
}
