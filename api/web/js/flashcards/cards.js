// The saved cards, each deletable; a cloze card marked as one.

import { api } from "../api.js";
import { h, fill, toast, showError, confirmAction } from "../ui.js";
import { t } from "../i18n.js";

/** A cloze card's or suggestion's "Cloze" badge and a space; nothing for a basic one. */
export const typeBadge = (type) => (type === "cloze" ? [h("span", { class: "badge card-type" }, t("flashcards.type.cloze")), " "] : null);

export async function renderCards(el) {
  const { items } = await api("GET", "/api/cards?limit=100");
  fill(el, items.length
    ? h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("flashcards.front")), h("th", {}, t("flashcards.back")),
      h("th", {}, h("span", { class: "muted" }, t("publishing.actions"))))),
      h("tbody", {}, items.map((c) => h("tr", { dataset: { id: c.id, type: c.card_type } },
        h("td", {}, typeBadge(c.card_type), c.front),
        h("td", {}, c.back),
        h("td", {}, h("button", {
          type: "button", class: "link delete-card", "data-needs": "editor", "aria-label": t("flashcards.deleteLabel", { front: c.front }),
          onclick: async () => {
            const sure = await confirmAction({ title: t("confirm.deleteCard"), body: t("confirm.deleteCardBody", { front: c.front }), confirm: t("flashcards.delete") });
            if (!sure) return;
            try { await api("DELETE", `/api/cards/${c.id}`); toast(t("flashcards.deleted")); await renderCards(el); } catch (e) { showError(e); }
          },
        }, t("flashcards.delete"))))))))
    : h("p", { class: "muted" }, t("flashcards.noCards")));
}
