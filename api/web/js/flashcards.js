// Flashcards (seed 002): paste text, generate, review the suggestions (accept, with edits,
// or reject), the saved cards, and the Anki CSV. Past generations are listed with what is
// left to review; a reload (or another device) reopens the one being reviewed.

import { api, download, follow } from "./api.js";
import { h, field, fill, toast, when, showError, showProblem, clearProblems, progressText, confirmAction } from "./ui.js";
import { t } from "./i18n.js";

// Seed 002: a source text of at least 1,000 characters (spaces at either end not counted)
// and at most 10,000 (as sent), counted as the server counts them (characters, not UTF-16
// units).
const MIN_CHARACTERS = 1000;
const MAX_CHARACTERS = 10000;

let source = null;

export function leave() {
  source?.close();
  source = null;
}

export async function show(view, [generationId] = []) {
  const text = h("textarea", { id: "source-text", rows: 8, "aria-describedby": "source-count" });
  const count = h("span", { class: "hint", id: "source-count", "aria-live": "polite" });
  const progress = h("progress", { id: "flashcards-progress", max: 1, value: 0, hidden: true, "aria-label": t("common.generationProgress") });
  const status = h("p", { id: "flashcards-status", role: "status", "aria-live": "polite" });
  const suggestions = h("div", { id: "suggestions", class: "stack" });
  const cards = h("div", { id: "cards" });
  const past = h("section", { class: "panel stack", id: "generations" });
  const generate = h("button", { type: "submit", id: "generate-cards" }, t("flashcards.generate"));
  // Which kinds of cards to write: question and answer, and cloze (hidden parts).
  const kinds = ["basic", "cloze"].map((kind) => h("input", { type: "checkbox", name: "card-type", value: kind, checked: kind === "basic" }));
  const types = h("fieldset", { class: "row", id: "card-types" }, h("legend", {}, t("flashcards.cardTypes")),
    kinds.map((box) => h("label", { class: "check" }, box, t(`flashcards.type.${box.value}`))));
  const form = h("form", { class: "panel stack" }, field(t("flashcards.source"), text, count), types, generate, progress, status);
  // The rule up front: how many characters there are, how many more are needed.
  const counted = () => {
    const n = [...text.value.trim()].length;
    const sent = [...text.value].length;
    const short = n < MIN_CHARACTERS;
    const long = sent > MAX_CHARACTERS;
    count.textContent = short ? t("flashcards.countShort", { count: n, missing: MIN_CHARACTERS - n, min: MIN_CHARACTERS })
      : long ? t("flashcards.countLong", { count: sent, excess: sent - MAX_CHARACTERS, max: MAX_CHARACTERS })
      : t("flashcards.countOk", { count: n });
    count.classList.toggle("ok", !short && !long);
    count.classList.toggle("bad", long);
    generate.disabled = short || long || running;
    clearProblems(form);
  };
  let running = false;
  text.addEventListener("input", counted);
  counted();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    running = true;
    generate.disabled = true;
    try {
      const cardTypes = kinds.filter((box) => box.checked).map((box) => box.value);
      const accepted = await api("POST", "/api/ai/generations", { source_text: text.value, card_types: cardTypes.length ? cardTypes : ["basic"] },
        { headers: { "Idempotency-Key": crypto.randomUUID() } });
      progress.hidden = false;
      status.textContent = t("common.generating");
      leave();
      source = follow(accepted.job_id, {
        on: {
          progress: (e) => { progress.max = e.total || 1; progress.value = e.completed; status.textContent = progressText(e) || status.textContent; },
          done: async (e) => {
            progress.hidden = true;
            running = false;
            counted();
            status.textContent = e.status !== "succeeded" ? t("flashcards.ended", { status: t(`status.${e.status}`), reason: e.error?.message ?? "" })
              : accepted.reused_from ? t("flashcards.reusedReview") : t("flashcards.review");
            // The address names the generation under review: a reload comes back to it.
            window.history.replaceState(null, "", `#/flashcards/${accepted.generation_id}`);
            await renderSuggestions(suggestions, accepted.generation_id, cards);
            await renderHistory(past, accepted.generation_id, suggestions, cards, false);
          },
        },
      });
    } catch (error) {
      running = false;
      counted();
      showProblem(error, { root: form, problem: status, fields: { source_text: text } });
    }
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

/**
 * The user's generations, newest first, each with what is left to review. `open`: the
 * chosen one's suggestions are shown (else the newest with suggestions to review).
 */
async function renderHistory(el, selected, suggestions, cards, open) {
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

async function renderSuggestions(el, generationId, cards) {
  const { items } = await api("GET", `/api/ai/generations/${generationId}/suggestions`);
  fill(el, h("h2", {}, t("flashcards.suggestions", { count: items.length })), items.map((s) => {
    const front = h("input", { value: s.front, name: "front" });
    const back = h("textarea", { name: "back", rows: 2, value: s.back });
    const outcome = h("span", { class: "badge", "data-status": s.status }, t(`status.${s.status}`));
    const decide = async (status) => {
      try {
        const body = status === "accepted" ? { status, front: front.value, back: back.value } : { status };
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
        h("button", { type: "button", class: "accept", onclick: () => decide("accepted"), disabled: s.status !== "proposed" }, t("flashcards.accept")),
        h("button", { type: "button", class: "secondary reject", onclick: () => decide("rejected"), disabled: s.status !== "proposed" }, t("flashcards.reject")),
        outcome));
    return row;
  }));
}

/** A cloze card's or suggestion's "Cloze" badge and a space; nothing for a basic one. */
const typeBadge = (type) => (type === "cloze" ? [h("span", { class: "badge card-type" }, t("flashcards.type.cloze")), " "] : null);

async function renderCards(el) {
  const { items } = await api("GET", "/api/cards?limit=100");
  fill(el, items.length
    ? h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("flashcards.front")), h("th", {}, t("flashcards.back")),
      h("th", {}, h("span", { class: "muted" }, t("publishing.actions"))))),
      h("tbody", {}, items.map((c) => h("tr", { dataset: { id: c.id, type: c.card_type } },
        h("td", {}, typeBadge(c.card_type), c.front),
        h("td", {}, c.back),
        h("td", {}, h("button", {
          type: "button", class: "link delete-card", "aria-label": t("flashcards.deleteLabel", { front: c.front }),
          onclick: async () => {
            const sure = await confirmAction({ title: t("confirm.deleteCard"), body: t("confirm.deleteCardBody", { front: c.front }), confirm: t("flashcards.delete") });
            if (!sure) return;
            try { await api("DELETE", `/api/cards/${c.id}`); toast(t("flashcards.deleted")); await renderCards(el); } catch (e) { showError(e); }
          },
        }, t("flashcards.delete"))))))))
    : h("p", { class: "muted" }, t("flashcards.noCards")));
}
