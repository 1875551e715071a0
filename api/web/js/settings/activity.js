// Settings -> Activity: who changed what in the workspace, newest first (`GET
// /v1/workspaces/{id}/activity`), by person and dates, page after page. Each change says
// who made it: the person, the API key by its name, or an AI agent.

import { api, people, session, workspaces } from "../api.js";
import { h, fill, field, showError } from "../ui.js";
import { t, formatZoned, has } from "../i18n.js";
import { who } from "../people.js";

export function activity() {
  const body = h("div", { class: "stack" });
  const element = h("section", { class: "stack", id: "activity-section", "aria-label": t("activity.title") }, body);
  const update = async () => {
    const here = workspaces.current;
    if (!here || here.personal) {
      fill(body, h("p", { class: "muted", id: "activity-personal" }, t("activity.personal")));
      return;
    }
    const members = await people.load();
    const person = h("select", { name: "actor", id: "activity-actor" },
      h("option", { value: "" }, t("activity.everyone")),
      [...members.values()].map((m) => h("option", { value: m.userId }, named(m.userId, m))));
    const from = h("input", { type: "date", name: "from", id: "activity-from" });
    const to = h("input", { type: "date", name: "to", id: "activity-to" });
    const list = h("ol", { class: "list activity", id: "activity-list" });
    const older = h("button", { type: "button", class: "secondary", id: "activity-older", hidden: true }, t("activity.older"));
    const problem = h("div");
    let cursor = null;
    const load = async (more) => {
      const query = new URLSearchParams({ limit: "50" });
      if (person.value) query.set("actor", person.value);
      if (from.value) query.set("from", new Date(`${from.value}T00:00:00`).toISOString());
      if (to.value) query.set("to", new Date(new Date(`${to.value}T00:00:00`).getTime() + 86_400_000).toISOString());
      if (more && cursor) query.set("cursor", cursor);
      try {
        const page = await api("GET", `/v1/workspaces/${here.id}/activity?${query}`);
        if (!more) list.replaceChildren();
        list.append(...page.items.map(item));
        if (!list.children.length) list.append(h("li", { class: "muted", id: "activity-none" }, t("activity.none")));
        cursor = page.nextCursor;
        older.hidden = !cursor;
      } catch (error) {
        showError(error, problem);
      }
    };
    const filters = h("form", { class: "row filters", id: "activity-filters", onsubmit: (e) => { e.preventDefault(); load(false); } },
      field(t("activity.person"), person), field(t("activity.from"), from), field(t("activity.to"), to),
      h("button", { type: "submit", class: "secondary" }, t("activity.apply")));
    older.addEventListener("click", () => load(true));
    fill(body, h("p", { class: "muted" }, t("activity.intro", { workspace: here.name })), filters, problem, list, older);
    await load(false);
  };
  return { element, update };
}

/** A person as the activity names them: by name, even oneself ("Ana (you)"), since its
 * sentences go on in the third person. */
function named(id, known) {
  const member = people.byId.get(id) ?? known;
  const name = member.name || member.email || who(id, known);
  return id === session.user ? t("activity.yourself", { name }) : name;
}

/** One change: when, who (and with what), what. */
function item(change) {
  const actor = change.actor ?? {};
  const name = named(actor.userId, actor);
  const via = actor.kind === "agent" ? t("activity.byAgent", { tool: actor.tool ?? "MCP" })
    : actor.kind === "key" ? t("activity.byKey", { key: actor.keyName ?? "" }) : null;
  const what = has(`activity.op.${change.action}`) ? t(`activity.op.${change.action}`)
    : t("activity.op.other", { method: change.method, route: change.route });
  return h("li", { class: "activity-item", "data-action": change.action, "data-kind": actor.kind },
    h("time", { datetime: change.at, class: "muted" }, formatZoned(change.at)),
    h("p", {}, h("strong", {}, name), " ", what, via ? [" ", h("span", { class: "muted" }, via)] : null,
      change.calendarId && change.action !== "deleteCalendarEntry" ? [" · ", h("a", { href: `#/calendar/${change.calendarId}` }, t("activity.openCalendar"))] : null));
}
