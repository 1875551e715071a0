// Seed 004's schedule editor: enable, days, a time in the reader's zone or in UTC, up to
// three emails, saved on every change, the next digest in the reader's time.

import { api } from "../api.js";
import { h, field, showError, explain, confirmAction, timeZonePicker, when } from "../ui.js";
import { t, formatDay, formatMoment } from "../i18n.js";
import { EMAIL, recipientsView, suppressionsView } from "./recipients.js";

// Seed 004's day codes, each with its letter's and its name's catalog keys.
const DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];
// Whether the schedule editor holds a change the server has not taken.
let scheduleUnsaved = () => false;

/** Whether the schedule shown holds a change the server has not taken. */
export const unsavedSchedule = () => scheduleUnsaved();

/** The editor is gone: nothing of it is unsaved. */
export function forgetSchedule() {
  scheduleUnsaved = () => false;
}

/**
 * Seed 004's schedule editor: every valid change is saved at once. A schedule keeps the
 * reader's time zone (its days and time are theirs, across clock changes), or UTC as seed
 * 004 has it.
 */
export async function scheduleEditor(themeId) {
  const saved = await api("GET", `/api/v1/themes/${themeId}/schedule`).catch(() => null);
  const state = saved ?? { enabled: false, days: [], time_utc: "08:00", emails: [] };
  const status = h("p", { id: "schedule-status", role: "status", "aria-live": "polite" },
    saved?.last_run_at ? t("schedule.lastRun", { when: when(saved.last_run_at) }) : "");
  const next = h("p", { id: "schedule-next", class: "muted" });
  const skipped = h("p", { id: "schedule-skipped", class: "notice warn", hidden: true });
  const suppressions = suppressionsView(themeId);
  const enabled = h("input", { type: "checkbox", id: "schedule-enabled", checked: state.enabled });
  const whenEmpty = h("input", { type: "checkbox", id: "schedule-when-empty", checked: Boolean(state.send_when_empty) });
  const days = DAYS.map(([code, key]) => h("button", {
    type: "button", class: "day-button", "aria-label": t(`schedule.dayName${key}`), "aria-pressed": String(state.days.includes(code)), dataset: { day: code },
    onclick: (e) => {
      const on = e.currentTarget.getAttribute("aria-pressed") !== "true";
      e.currentTarget.setAttribute("aria-pressed", String(on));
      save();
    },
  }, t(`schedule.day${key}`)));
  // A saved schedule without a zone is seed 004's UTC one; a new one starts in the reader's.
  const zone = timeZonePicker("timezone", saved ? (saved.timezone ?? "UTC") : null);
  zone.id = "schedule-zone";
  const time = h("input", { type: "time", id: "schedule-time", value: state.time_local ?? state.time_utc, required: true });
  const timeLabel = h("span", {});
  const utc = () => zone.value === "UTC" || zone.value === "Etc/UTC";
  const showZone = () => {
    timeLabel.textContent = utc() ? t("schedule.time") : t("schedule.timeLocal", { zone: zone.value.replaceAll("_", " ") });
  };
  // What the server says of the schedule as saved: its next digest, in the reader's time,
  // and a day it was not sent.
  const showSaved = (answer) => {
    next.textContent = !answer?.enabled ? t("schedule.off")
      : !answer.days?.length ? t("schedule.noDays")
      : answer.next_run_at ? t("schedule.next", { when: formatMoment(answer.next_run_at) }) : "";
    suppressions.update(answer?.suppressions);
    skipped.hidden = !answer?.skipped_day;
    skipped.textContent = answer?.skipped_day ? t("schedule.skipped", { day: formatDay(answer.skipped_day) }) : "";
  };
  showZone();
  if (saved) showSaved(saved);
  const { emails, addEmail } = recipientsView(state.emails, () => save());
  const remove = h("button", {
    type: "button", class: "link",
    onclick: async () => {
      const sure = await confirmAction({ title: t("confirm.deleteSchedule"), body: t("confirm.deleteScheduleBody"), confirm: t("schedule.delete") });
      if (!sure) return;
      try { await api("DELETE", `/api/v1/themes/${themeId}/schedule`); status.textContent = t("schedule.deleted"); } catch (e) { showError(e); }
    },
  }, t("schedule.delete"));

  // Saves go one after another, each reading the editor when its turn comes: two changes in
  // quick succession cannot reach the server out of order and leave the older one saved.
  let saving = Promise.resolve();
  function save() {
    saving = saving.then(put);
    return saving;
  }

  // The schedule as the editor shows it; null while an address is not one.
  function edited() {
    const addresses = [...emails.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
    if (addresses.some((a) => !EMAIL.test(a))) return null;
    const at = time.value.slice(0, 5);
    return {
      enabled: enabled.checked,
      days: days.filter((b) => b.getAttribute("aria-pressed") === "true").map((b) => b.dataset.day),
      ...(utc() ? { time_utc: at } : { timezone: zone.value, time_local: at }),
      emails: addresses,
      send_when_empty: whenEmpty.checked,
    };
  }

  async function put() {
    const body = edited();
    if (!body) return;
    try {
      showSaved(await api("PUT", `/api/v1/themes/${themeId}/schedule`, body));
      status.textContent = t("schedule.saved");
      status.dataset.saved = JSON.stringify(body);
      taken = JSON.stringify(body);
    } catch (error) {
      status.textContent = explain(error);
      status.dataset.saved = "";
    }
  }
  // What the server holds: the editor as it opened, then each save it took.
  let taken = JSON.stringify(edited());
  scheduleUnsaved = () => JSON.stringify(edited()) !== taken;
  enabled.addEventListener("change", save);
  whenEmpty.addEventListener("change", save);
  time.addEventListener("change", save);
  zone.addEventListener("change", () => { showZone(); save(); });
  return h("section", { class: "panel stack", id: "schedule" }, h("h3", {}, t("schedule.title")),
    h("label", { class: "check" }, enabled, t("schedule.enabled")),
    h("div", { class: "stack" }, h("span", { class: "label", id: "schedule-days-label" }, t("schedule.days")),
      h("div", { class: "row", role: "group", "aria-labelledby": "schedule-days-label" }, days)),
    h("div", { class: "row schedule-when" }, field(timeLabel, time),
      field(t("schedule.zone"), zone)),
    next, skipped,
    h("div", { class: "stack" }, h("span", { class: "label", id: "schedule-emails-label" },
      t("schedule.emails"), ` · ${t("schedule.maxEmails")}`), emails, addEmail, suppressions.el),
    h("label", { class: "check" }, whenEmpty, t("schedule.whenEmpty")),
    status, remove);
}
