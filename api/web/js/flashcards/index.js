// Flashcards (seed 002): paste text, generate, review the suggestions (accept, with edits,
// or reject), the saved cards, and the Anki CSV. Past generations are listed with what is
// left to review; a reload (or another device) reopens the one being reviewed.

import { download } from "../api.js";
import { h, fill, showError } from "../ui.js";
import { t } from "../i18n.js";
import { renderCards } from "./cards.js";
import { generateForm, stopFollowing } from "./generate.js";
import { renderHistory, renderSuggestions } from "./review.js";

export function leave() {
  stopFollowing();
}

export async function show(view, [generationId] = []) {
  const suggestions = h("div", { id: "suggestions", class: "stack" });
  const cards = h("div", { id: "cards" });
  const past = h("section", { class: "panel stack", id: "generations" });
  const form = generateForm(async (id) => {
    await renderSuggestions(suggestions, id, cards);
    await renderHistory(past, id, suggestions, cards, false);
  });
  fill(view, h("h1", {}, t("flashcards.title")), form, past, suggestions,
    h("section", { class: "panel stack" }, h("div", { class: "row" }, h("h2", {}, t("flashcards.yours")),
      h("button", {
        type: "button", id: "download-apkg",
        onclick: () => download("/api/cards/export?format=apkg", "almanac.apkg").catch((e) => showError(e)),
      }, t("flashcards.downloadApkg")),
      h("button", {
        type: "button", class: "secondary", id: "download-csv",
        onclick: () => download("/api/cards/export?format=csv", "almanac-cards.csv").catch((e) => showError(e)),
      }, t("flashcards.downloadCsv"))),
    h("p", { class: "muted" }, t("flashcards.exportHint")), cards));
  await Promise.all([renderCards(cards), renderHistory(past, generationId, suggestions, cards, true)]);
}
