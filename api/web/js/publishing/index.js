// Publishing (seed 001): connected channels, a dry run per entry and channel with its
// reasons, then schedule or publish; the intents' statuses refresh while any is moving.

import { api, appConfig, session } from "../api.js";
import { h, field, fill, showError, confirmAction, toast } from "../ui.js";
import { t } from "../i18n.js";
import { renderChannels } from "./accounts.js";
import { STATUSES, meaning, setPlatforms } from "./common.js";
import { postAs } from "../post-as.js";
import { connectedChannels } from "../platforms.js";
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

/** A calendar's entries with the publish actions and the report of the last request, and
 * in a tab of their own, the receipts: what was sent, where it stands, its post. */
async function renderCalendar(main, calendarId) {
  const [detail, connected] = await Promise.all([api("GET", `/v1/calendars/${calendarId}`), connectedChannels()]);
  const accounts = postAs(connected, detail.entries.map((e) => e.channel));
  const entries = entriesView(detail, calendarId);
  detail.onStatuses = entries.update;
  const mode = h("select", { id: "publish-mode" }, h("option", { value: "publish" }, t("publishing.modePublish")), h("option", { value: "draft" }, t("publishing.modeDraft")));
  const report = h("div", { id: "report" });
  const intents = h("div", { id: "intents" });
  const publish = (entryIds, extra) => {
    const chosen = accounts.chosen();
    return api("POST", `/v1/calendars/${calendarId}/publish`, { entryIds, mode: mode.value, ...(chosen.length ? { channels: chosen } : {}), ...extra });
  };
  const send = async (extra) => {
    const entryIds = entries.chosenIds();
    if (!entryIds.length) return toast(t("publishing.selectOne"));
    try {
      if (extra.when === "now") {
        // What would be refused is said before anything goes: the dry run, then the question.
        const planned = await publish(entryIds, { dryRun: true });
        renderReport(report, planned, detail);
        if (!await sureToPublishNow(entryIds, planned)) return;
      }
      const answer = await publish(entryIds, extra);
      renderReport(report, answer, detail);
      // Done with: a next action starts from a new choice (a dry run keeps it, to send).
      if (!extra.dryRun) entries.clear();
      await renderIntents(intents, calendarId, detail);
    } catch (error) { showError(error, report); }
  };
  const off = session.publishing ? null : "publishing-off";
  const sent = h("section", { class: "stack", id: "panel-receipts", role: "tabpanel", "aria-labelledby": "tab-receipts" }, intents,
    h("details", {}, h("summary", {}, t("publishing.statusesMean")),
      h("dl", {}, STATUSES.map((k) => [h("dt", {}, h("strong", {}, t(`status.${k}`))), h("dd", {}, meaning(k))]))));
  const work = h("div", { class: "stack", id: "panel-entries", role: "tabpanel", "aria-labelledby": "tab-entries" },
    ...entries.el,
    // The actions stay in view however long the list.
    h("div", { class: "row action-bar" }, entries.count, field(t("publishing.mode"), mode), ...accounts.fields,
      h("button", { type: "button", id: "dry-run", "data-needs": "editor", onclick: () => send({ dryRun: true }) }, t("publishing.dryRun")),
      h("button", { type: "button", id: "schedule-publish", class: "secondary", "data-needs": "editor", disabled: !session.publishing, "aria-describedby": off, onclick: () => send({ dryRun: false, when: "scheduled" }) }, t("publishing.schedule")),
      h("button", { type: "button", id: "publish-now", class: "secondary", "data-needs": "editor", disabled: !session.publishing, "aria-describedby": off, onclick: () => send({ dryRun: false, when: "now" }) }, t("publishing.publishNow"))),
    // While publishing is off, the buttons say why they do nothing.
    session.publishing ? null : h("p", { class: "notice warn", id: "publishing-off" }, t("errors.code.PUBLISH_DISABLED")),
    report);
  fill(main, main.firstChild,
    h("section", { class: "panel stack" },
      h("h2", {}, detail.calendar.name || t("calendar.untitled")),
      tabs([["entries", t("publishing.tabEntries", { count: detail.entries.length }), work], ["receipts", t("publishing.tabReceipts"), sent]]),
      work, sent));
  await renderIntents(intents, calendarId, detail);
}

/** Tabs over `panels` (`[name, label, panel]`), the first shown. */
function tabs(panels) {
  const buttons = panels.map(([name, label]) => h("button", { type: "button", role: "tab", id: `tab-${name}`, class: "tab" }, label));
  const choose = (n) => panels.forEach(([, , panel], i) => {
    panel.hidden = i !== n;
    buttons[i].setAttribute("aria-selected", String(i === n));
  });
  buttons.forEach((b, i) => b.addEventListener("click", () => choose(i)));
  choose(0);
  return h("div", { class: "tabs", role: "tablist" }, buttons);
}

/** Asks before publishing `entryIds` now, saying how many of them the platforms would
 * refuse (as the dry run `planned` found). */
function sureToPublishNow(entryIds, planned) {
  const refused = planned.intents.filter((i) => i.error).length + (planned.refused ?? []).length;
  return confirmAction({
    title: t("confirm.publishNow", { count: entryIds.length }),
    body: [t("confirm.publishNowBody"), refused ? [" ", h("strong", { id: "confirm-refused" }, t("confirm.willRefuse", { count: refused }))] : null],
    confirm: t("publishing.publishNow"),
  });
}
