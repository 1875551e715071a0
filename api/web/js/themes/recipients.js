// A schedule's people: the digest's recipients (three at most, each checked when the
// person leaves it) and the addresses that unsubscribed, allowed again by the owner.

import { api } from "../api.js";
import { h, fill, toast, when, showError } from "../ui.js";
import { t } from "../i18n.js";

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Addresses that unsubscribed with their digest's link, kept off until the owner allows
 * one again; `update(list)` shows the server's list. */
export function suppressionsView(themeId) {
  const el = h("div", { class: "stack", id: "schedule-suppressions" });
  const update = (list) => fill(el, ...(list ?? []).map((s) => {
    const row = h("p", { class: "row suppression" },
      h("span", {}, t("schedule.unsubscribed", { email: s.email, when: when(s.since) })),
      h("button", {
        type: "button", class: "link", "aria-label": t("schedule.allowAgainAria", { email: s.email }),
        onclick: async () => {
          try {
            await api("DELETE", `/api/v1/themes/${themeId}/schedule/suppressions/${encodeURIComponent(s.email)}`);
            row.remove();
            toast(t("schedule.allowedAgain", { email: s.email }));
          } catch (e) { showError(e); }
        },
      }, t("schedule.allowAgain")));
    return row;
  }));
  return { el, update };
}

/** The digest's recipients (three at most), each checked when the person leaves it;
 * `save()` after each valid change. */
export function recipientsView(initial, save) {
  const emails = h("div", { class: "stack", id: "schedule-emails" });
  const addEmail = h("button", { type: "button", class: "secondary", id: "add-email" }, t("schedule.addEmail"));
  const emailRow = (value = "") => {
    const input = h("input", { type: "email", value, "aria-label": t("schedule.recipient"), autocomplete: "email" });
    const error = h("span", { class: "field-error", role: "alert" });
    input.addEventListener("blur", () => {
      const ok = !input.value.trim() || EMAIL.test(input.value.trim());
      input.classList.toggle("invalid", !ok);
      input.setAttribute("aria-invalid", String(!ok));
      error.textContent = ok ? "" : t("schedule.invalidEmail");
      if (ok) save();
    });
    const row = h("div", { class: "row email-row" }, input,
      h("button", { type: "button", class: "link", "aria-label": t("schedule.removeEmail"), onclick: () => { row.remove(); syncAdd(); save(); } }, t("common.remove")),
      error);
    return row;
  };
  const syncAdd = () => {
    const n = emails.querySelectorAll("input").length;
    addEmail.disabled = n >= 3;
    addEmail.title = n >= 3 ? t("schedule.maxEmails") : "";
  };
  for (const email of initial) emails.append(emailRow(email));
  addEmail.addEventListener("click", () => { emails.append(emailRow()); syncAdd(); emails.querySelector("input:last-of-type")?.focus(); });
  syncAdd();
  return { emails, addEmail };
}
