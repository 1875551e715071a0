// What a theme produced: its syntheses, and the emails of its digests with where each
// stands (the outbox's copy to open, when the server keeps one).

import { api, download } from "../api.js";
import { h, fill, when, showError } from "../ui.js";
import { t } from "../i18n.js";

export async function renderSyntheses(el, themeId) {
  const items = await api("GET", `/api/v1/themes/${themeId}/syntheses`);
  fill(el, items.length ? h("ul", { class: "list" }, items.map((s) => h("li", {},
    h("span", { class: `badge ${s.status === "succeeded" ? "ok" : s.status === "failed" ? "bad" : ""}` }, t(`status.${s.status}`)), " ",
    s.title ?? t("themes.untitled"), h("span", { class: "muted" }, ` · ${when(s.created_at)}`),
    s.items_left_out ? h("span", { class: "muted" }, ` · ${t("themes.leftOut", { n: s.items_left_out })}`) : null,
    (s.sections ?? []).length ? h("ul", {}, s.sections.map((section) => h("li", {}, h("strong", {}, section.title ?? ""), " ", section.summary ?? section.body ?? ""))) : null)))
    : h("p", { class: "muted" }, t("themes.noSynthesis")));
}

export async function renderDeliveries(el, themeId) {
  const items = await api("GET", `/api/v1/themes/${themeId}/deliveries`);
  fill(el, items.length ? h("div", { class: "table-wrap" }, h("table", { class: "deliveries" },
    h("thead", {}, h("tr", {}, h("th", {}, t("themes.to")), h("th", {}, t("themes.status")), h("th", {}, t("themes.sent")), h("th", {}, h("span", { class: "muted" }, t("themes.email"))))),
    h("tbody", {}, items.map((d) => h("tr", {}, h("td", {}, d.recipient), h("td", {}, t(`status.${d.status}`), d.reason ? ` (${t(`themes.reason.${d.reason}`)})` : "", d.last_error ? ` (${d.last_error.message ?? ""})` : ""), h("td", {}, when(d.sent_at)),
      h("td", {}, d.email_url ? h("button", {
        type: "button", class: "link open-email", "aria-label": t("themes.openEmail", { to: d.recipient }),
        onclick: () => download(d.email_url, `digest-${d.recipient}.eml`).catch((e) => showError(e)),
      }, t("themes.open")) : null))))))
    : h("p", { class: "muted" }, t("themes.noEmail")));
}
