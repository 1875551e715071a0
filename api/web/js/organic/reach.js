// Where the week goes once planned: into a calendar (a new one, or one of the user's),
// where it can be scheduled and published, or out as a file (.ics, .csv).

import { api, download } from "../api.js";
import { h, field, showError } from "../ui.js";
import { t } from "../i18n.js";

/** The week's "Add to a calendar" panel. */
export function reachView(board) {
  const { state, brand } = board;
  const weekPath = `/api/organic/brands/${encodeURIComponent(brand.id)}/weeks/${state.weekStart}`;
  const choice = h("select", { id: "week-calendar", name: "calendar" },
    h("option", { value: "" }, t("organic.newCalendar")));
  const status = h("p", { id: "week-calendar-status", class: "hint", role: "status" });
  const button = h("button", { type: "button", id: "week-to-calendar" }, t("organic.toCalendar"));
  // The user's calendars, as the server names them (again after one is made here).
  const list = () => api("GET", "/v1/calendars?limit=50").then(({ items }) => {
    const chosen = choice.value;
    choice.replaceChildren(h("option", { value: "" }, t("organic.newCalendar")),
      ...items.map((c) => h("option", { value: c.id }, c.name)));
    choice.value = chosen;
  }).catch(() => {});
  const calendars = list();
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await calendars;
      const body = choice.value ? { calendarId: choice.value } : {};
      const done = await api("POST", `${weekPath}/calendar`, body);
      choice.value = done.calendarId;
      if (choice.value !== done.calendarId) {
        await list();
        choice.value = done.calendarId;
      }
      status.replaceChildren(t("organic.addedToCalendar", { added: done.added, updated: done.updated }), " ",
        h("a", { href: `#/calendar/${done.calendarId}` }, t("organic.openCalendar")));
      status.dataset.added = done.added;
      status.dataset.updated = done.updated;
    } catch (error) {
      showError(error, status);
    } finally {
      button.disabled = false;
    }
  });
  const file = (format) => h("button", { type: "button", class: "link", id: `week-export-${format}`,
    onclick: () => download(`${weekPath}/export?format=${format}`, `week-${state.weekStart}.${format}`).catch((e) => showError(e, status)) },
  t(`organic.export.${format}`));
  const el = h("section", { class: "panel stack", id: "week-reach" },
    h("h3", {}, t("organic.reachTitle")),
    h("p", { class: "hint explain" }, t("organic.reachExplain")),
    h("div", { class: "row" }, field(t("organic.calendarChoice"), choice), button, file("ics"), file("csv")),
    status);
  return { el };
}
