// Publishing (seed 001): connected channels, a dry run per entry and channel with its
// reasons, then schedule or publish; the intents' statuses refresh while any is moving.

import { api, appConfig, session } from "../api.js";
import { h, field, fill, showError, confirmAction, toast } from "../ui.js";
import { t } from "../i18n.js";
import { renderChannels } from "./accounts.js";
import { STATUSES, meaning, setPlatforms } from "./common.js";
import { postAs } from "../post-as.js";
import { entriesView } from "./entries.js";
import { renderIntents, stopRefreshing } from "./intents.js";
import { renderReport } from "./report.js";

export function leave() {
  stopRefreshing();
}

export async function show(view, [calendarId]) {
  leave();
  setPlatforms((await appConfig()).platforms ?? []);
  const channels = h("section", { class: "panel stack", id: "channels" });
  const main = h("div", { class: "stack", id: "publishing" });
  fill(view, h("h1", {}, t("publishing.title")), h("div", { class: "split" }, channels, main));
  await renderChannels(channels);
  const { items } = await api("GET", "/v1/calendars?limit=50");
  const picker = h("select", { id: "publish-calendar" },
    h("option", { value: "" }, t("publishing.chooseCalendar")),
    items.map((c) => h("option", { value: c.id, selected: c.id === calendarId }, c.name || t("calendar.untitled"))));
  picker.addEventListener("change", () => { location.hash = `#/publishing/${picker.value}`; });
  fill(main, h("div", { class: "panel" }, field(t("publishing.calendar"), picker)));
  if (calendarId) await renderCalendar(main, calendarId);
}

/** A calendar's entries with the publish actions, the report of the last request and the
 * intents. */
async function renderCalendar(main, calendarId) {
  const [detail, { items: channelList }] = await Promise.all([
    api("GET", `/v1/calendars/${calendarId}`), api("GET", "/v1/channels")]);
  const accounts = postAs(channelList.filter((c) => c.status === "connected"), detail.entries.map((e) => e.channel));
  const entries = entriesView(detail, calendarId);
  detail.onStatuses = entries.update;
  const mode = h("select", { id: "publish-mode" }, h("option", { value: "publish" }, t("publishing.modePublish")), h("option", { value: "draft" }, t("publishing.modeDraft")));
  const report = h("div", { id: "report" });
  const intents = h("div", { id: "intents" });
  const send = async (extra) => {
    const entryIds = entries.chosenIds();
    if (!entryIds.length) return toast(t("publishing.selectOne"));
    if (extra.when === "now") {
      const sure = await confirmAction({ title: t("confirm.publishNow", { count: entryIds.length }), body: t("confirm.publishNowBody"), confirm: t("publishing.publishNow") });
      if (!sure) return;
    }
    try {
      const chosen = accounts.chosen();
      const answer = await api("POST", `/v1/calendars/${calendarId}/publish`, { entryIds, mode: mode.value, ...(chosen.length ? { channels: chosen } : {}), ...extra });
      renderReport(report, answer, detail);
      await renderIntents(intents, calendarId, detail);
    } catch (error) { showError(error, report); }
  };
  const off = session.publishing ? null : "publishing-off";
  fill(main, main.firstChild,
    h("section", { class: "panel stack" },
      h("h2", {}, detail.calendar.name || t("calendar.untitled")),
      ...entries.el,
      // The actions stay in view however long the list.
      h("div", { class: "row action-bar" }, entries.count, field(t("publishing.mode"), mode), ...accounts.fields,
        h("button", { type: "button", id: "dry-run", "data-needs": "editor", onclick: () => send({ dryRun: true }) }, t("publishing.dryRun")),
        h("button", { type: "button", id: "schedule-publish", class: "secondary", "data-needs": "editor", disabled: !session.publishing, "aria-describedby": off, onclick: () => send({ dryRun: false, when: "scheduled" }) }, t("publishing.schedule")),
        h("button", { type: "button", id: "publish-now", class: "secondary", "data-needs": "editor", disabled: !session.publishing, "aria-describedby": off, onclick: () => send({ dryRun: false, when: "now" }) }, t("publishing.publishNow"))),
      // While publishing is off, the buttons say why they do nothing.
      session.publishing ? null : h("p", { class: "notice warn", id: "publishing-off" }, t("errors.code.PUBLISH_DISABLED"))),
    report,
    h("section", { class: "panel stack" }, h("h2", {}, t("publishing.intents")), intents,
      h("details", {}, h("summary", {}, t("publishing.statusesMean")),
        h("dl", {}, STATUSES.map((k) => [h("dt", {}, h("strong", {}, t(`status.${k}`))), h("dd", {}, meaning(k))])))));
  await renderIntents(intents, calendarId, detail);
}
