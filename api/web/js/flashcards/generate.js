// The source text, counted against seed 002's rule as it is typed, the kinds of cards to
// write, and the generation followed as it goes.

import { api, follow } from "../api.js";
import { h, field, clearProblems, progressText, showProblem } from "../ui.js";
import { t } from "../i18n.js";

// Seed 002: a source text of at least 1,000 characters (spaces at either end not counted)
// and at most 10,000 (as sent), counted as the server counts them (characters, not UTF-16
// units).
const MIN_CHARACTERS = 1000;
const MAX_CHARACTERS = 10000;

let source = null;

/** Stops following a generation (the page is left, or another starts). */
export function stopFollowing() {
  source?.close();
  source = null;
}

/** The form; `generated(id)` once a generation has ended. */
export function generateForm(generated) {
  const text = h("textarea", { id: "source-text", rows: 8, "aria-describedby": "source-count" });
  const count = h("span", { class: "hint", id: "source-count", "aria-live": "polite" });
  const progress = h("progress", { id: "flashcards-progress", max: 1, value: 0, hidden: true, "aria-label": t("common.generationProgress") });
  const status = h("p", { id: "flashcards-status", role: "status", "aria-live": "polite" });
  const generate = h("button", { type: "submit", id: "generate-cards" }, t("flashcards.generate"));
  // Which kinds of cards to write: question and answer, and cloze (hidden parts).
  const kinds = ["basic", "cloze"].map((kind) => h("input", { type: "checkbox", name: "card-type", value: kind, checked: kind === "basic" }));
  const types = h("fieldset", { class: "row", id: "card-types" }, h("legend", {}, t("flashcards.cardTypes")),
    kinds.map((box) => h("label", { class: "check" }, box, t(`flashcards.type.${box.value}`))));
  const form = h("form", { class: "panel stack", "data-needs": "editor" }, field(t("flashcards.source"), text, count), types, generate, progress, status);
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
      stopFollowing();
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
            await generated(accepted.generation_id);
          },
        },
      });
    } catch (error) {
      running = false;
      counted();
      showProblem(error, { root: form, problem: status, fields: { source_text: text } });
    }
  });
  return form;
}
