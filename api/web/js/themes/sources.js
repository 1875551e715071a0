// A theme's sources (a feed, a web page, or inline text), each checked as it is added.

import { h, field, fill, fieldError, clearProblems } from "../ui.js";
import { t } from "../i18n.js";

const SOURCE_TYPES = ["rss", "url", "text"];

export function sourcesEditor(initial) {
  const sources = [...initial];
  const list = h("ul", { class: "list" });
  const render = () => fill(list, sources.map((s, i) => h("li", {}, h("span", { class: "badge" }, t(`themes.sourceType.${s.type}`)), " ", s.value, " ",
    h("button", { type: "button", class: "link", "aria-label": t("themes.removeSource", { n: i + 1 }), onclick: () => { sources.splice(i, 1); render(); } }, t("common.remove")))));
  const type = h("select", { name: "sourceType" }, SOURCE_TYPES.map((type) => h("option", { value: type }, t(`themes.sourceType.${type}`))));
  const value = h("input", { name: "sourceValue" });
  // A typed source is checked as it is added: a feed or a page needs a web address.
  const addTyped = () => {
    const typed = value.value.trim();
    if (!typed) return true;
    if (type.value !== "text" && !/^https?:\/\/[^\s/]+\.[^\s]+$/i.test(typed)) {
      fieldError(value, t("errors.field.sources.value"));
      return false;
    }
    clearProblems(el);
    sources.push({ type: type.value, value: typed });
    value.value = "";
    render();
    return true;
  };
  const add = h("button", { type: "button", class: "secondary", onclick: addTyped }, t("themes.addSource"));
  render();
  const el = h("div", { class: "stack" }, list, h("div", { class: "row" }, field(t("themes.sourceTypeLabel"), type), field(t("themes.sourceValue"), value), add));
  return { sources, addTyped, value, el };
}
