// The caller's calendars, beside the one shown: each with its entries and version.

import { api } from "../api.js";
import { h, fill, showError } from "../ui.js";
import { t } from "../i18n.js";

export async function renderList(el, selected) {
  try {
    const { items } = await api("GET", "/v1/calendars?limit=50");
    fill(el,
      h("h2", {}, t("calendar.yours")),
      h("p", {}, h("a", { href: "#/calendar/new", id: "new-calendar", "data-needs": "editor" }, t("calendar.newLink"))),
      items.length ? h("ul", { class: "list" }, items.map((c) => h("li", {},
        h("a", { href: `#/calendar/${c.id}`, "aria-current": c.id === selected ? "page" : null },
          c.name || t("calendar.untitled")),
        h("div", { class: "muted" }, t("calendar.listMeta", { count: c.entries, version: c.currentVersion }))))) :
        h("p", { class: "muted" }, t("calendar.noneYet")));
  } catch (error) {
    showError(error, el);
  }
}
