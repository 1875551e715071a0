// Themes (seed 004): sources, "synthesise now" with its progress, the schedule editor (enable,
// days, a time in the reader's zone or in UTC, up to three emails checked on blur, saved on
// every change, the next digest in the reader's time) and the deliveries.

import { api } from "../api.js";
import { h, field, fill, toast, showError, showProblem, confirmAction } from "../ui.js";
import { t } from "../i18n.js";
import { renderDeliveries } from "./history.js";
import { forgetSchedule, scheduleEditor, unsavedSchedule } from "./schedule.js";
import { sourcesEditor } from "./sources.js";
import { stopFollowing, synthesisView } from "./synthesis.js";

export function leave() {
  stopFollowing();
  forgetSchedule();
}

/** Whether leaving now would lose something typed here. */
export function unsaved() {
  return unsavedSchedule();
}

export async function show(view, [id]) {
  const themes = await api("GET", "/api/v1/themes");
  const list = h("div", { class: "panel" }, h("h2", {}, t("themes.yours")),
    h("ul", { class: "list", id: "themes" }, themes.map((t) => h("li", {},
      h("a", { href: `#/themes/${t.id}`, "aria-current": t.id === id ? "page" : null }, t.name)))),
    newTheme());
  const main = h("div", { class: "stack", id: "theme" });
  fill(view, h("h1", {}, t("themes.title")), h("div", { class: "split" }, list, main));
  const theme = themes.find((t) => t.id === id);
  if (theme) await renderTheme(main, theme);
  else main.append(h("p", { class: "panel muted" }, t("themes.choose")));
}

function newTheme() {
  const name = h("input", { name: "name", required: true });
  const description = h("input", { name: "description" });
  const editor = sourcesEditor([]);
  const problem = h("div");
  const form = h("form", { class: "stack", id: "theme-form", "data-needs": "editor" }, h("h3", {}, t("themes.new")),
    field(t("themes.name"), name), field(t("themes.description"), description), editor.el, h("button", {}, t("themes.create")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // A source typed but not added is added now, not dropped.
    if (!editor.addTyped()) return;
    try {
      const theme = await api("POST", "/api/v1/themes", {
        name: name.value, description: description.value || undefined, sources: editor.sources,
      });
      location.hash = `#/themes/${theme.id}`;
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { name, description, sources: editor.value } });
    }
  });
  return form;
}

async function renderTheme(main, theme) {
  const editor = sourcesEditor(theme.sources);
  const saveSources = h("button", {
    type: "button", class: "secondary", "data-needs": "editor",
    onclick: async () => {
      if (!editor.addTyped()) return;
      try {
        await api("PATCH", `/api/v1/themes/${theme.id}`, { sources: editor.sources });
        toast(t("themes.sourcesSaved"));
      } catch (e) { showProblem(e, { root: editor.el, fields: { sources: editor.value } }); }
    },
  }, t("themes.saveSources"));
  const synthesis = synthesisView(theme.id);
  const deliveries = h("div", { id: "deliveries" });
  const remove = h("button", {
    type: "button", class: "danger", "data-needs": "editor",
    onclick: async () => {
      const sure = await confirmAction({ title: t("confirm.deleteTheme", { name: theme.name }), body: t("confirm.deleteThemeBody"), confirm: t("themes.delete") });
      if (!sure) return;
      try { await api("DELETE", `/api/v1/themes/${theme.id}`); location.hash = "#/themes"; } catch (e) { showError(e); }
    },
  }, t("themes.delete"));
  fill(main,
    h("section", { class: "panel stack" }, h("h2", {}, theme.name), theme.description ? h("p", {}, theme.description) : null,
      h("h3", {}, t("themes.sources")), editor.el, h("div", { class: "row" }, saveSources, remove)),
    synthesis.el,
    await scheduleEditor(theme.id),
    h("section", { class: "panel stack" }, h("h3", {}, t("themes.deliveries")), deliveries));
  await Promise.all([synthesis.update(), renderDeliveries(deliveries, theme.id)]);
}
