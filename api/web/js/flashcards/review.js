// Past generations with what is left to review, and one generation's suggestions:
// accepted (with edits) or rejected, one by one.

import { api } from "../api.js";
import { h, field, fill, toast, when, showError } from "../ui.js";
import { t } from "../i18n.js";
import { renderCards, typeBadge } from "./cards.js";

/**
 * The user's generations, newest first, each with what is left to review. `open`: the
 * chosen one's suggestions are shown (else the newest with suggestions to review).
 */
export async function renderHistory(el, selected, suggestions, cards, open) {
  const { items } = await api("GET", "/api/ai/generations?limit=20");
  fill(el, h("h2", {}, t("flashcards.history")),
    items.length ? h("ul", { class: "list" }, items.map((g) => h("li", { class: "generation", dataset: { id: g.id } },
      h("a", { href: `#/flashcards/${g.id}`, "aria-current": g.id === selected ? "page" : null }, when(g.created_at)), " ",
      h("span", { class: `badge ${g.status === "failed" ? "bad" : ""}` }, t(`status.${g.status}`)), " ",
      g.suggestions.proposed > 0
        ? h("span", { class: "badge warn to-review" }, t("flashcards.toReview", { count: g.suggestions.proposed }))
        : h("span", { class: "muted" }, t("flashcards.reviewed", { count: g.suggestions.accepted, total: g.suggestions.total })),
      g.reused_from ? h("span", { class: "badge reused", title: t("flashcards.reusedTitle") }, t("flashcards.reused")) : null,
      g.suggestions.duplicates_skipped > 0
        ? h("span", { class: "muted skipped" }, " · ", t("flashcards.skipped", { count: g.suggestions.duplicates_skipped }))
        : null)))
      : h("p", { class: "muted" }, t("flashcards.noHistory")));
  if (!open) return;
  const chosen = selected ?? items.find((g) => g.suggestions.proposed > 0)?.id;
  if (chosen) await renderSuggestions(suggestions, chosen, cards);
}

export async function renderSuggestions(el, generationId, cards) {
  const { items } = await api("GET", `/api/ai/generations/${generationId}/suggestions`);
  fill(el, h("h2", {}, t("flashcards.suggestions", { count: items.length })), items.map((s) => {
    const front = h("input", { value: s.front, name: "front" });
    const back = h("textarea", { name: "back", rows: 2, value: s.back });
    const outcome = h("span", { class: "badge", "data-status": s.status }, t(`status.${s.status}`));
    const decide = async (status) => {
      try {
        const body = status === "accepted"
          ? { card_type: s.card_type, status, front: front.value, back: back.value }
          : { card_type: s.card_type, status };
        const saved = await api("PATCH", `/api/ai/suggestions/${s.id}`, body);
        outcome.textContent = t(`status.${saved.status}`);
        outcome.dataset.status = saved.status;
        row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
        toast(t(saved.status === "accepted" ? "flashcards.acceptedToast" : "flashcards.rejectedToast"));
        await renderCards(cards);
        const list = document.getElementById("generations");
        if (list) await renderHistory(list, generationId, el, cards, false);
      } catch (error) {
        showError(error);
      }
    };
    const cloze = s.card_type === "cloze";
    const row = h("article", { class: "panel stack suggestion", dataset: { id: s.id, type: s.card_type } },
      typeBadge(s.card_type),
      field(cloze ? t("flashcards.clozeText") : t("flashcards.front"), front), field(cloze ? t("flashcards.extra") : t("flashcards.back"), back),
      h("div", { class: "row" },
        h("button", { type: "button", class: "accept", "data-needs": "editor", onclick: () => decide("accepted"), disabled: s.status !== "proposed" }, t("flashcards.accept")),
        h("button", { type: "button", class: "secondary reject", "data-needs": "editor", onclick: () => decide("rejected"), disabled: s.status !== "proposed" }, t("flashcards.reject")),
        outcome));
    return row;
  }));
}
