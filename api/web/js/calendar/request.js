// The request of a calendar (seed 000): channels, cadence, dates and constraints, checked
// at their fields before anyone presses Generate, with how large the plan is and about how
// long it takes.

import { api } from "../api.js";
import { allChannels, channelLabel, connectedChannels, publishingChannels } from "../platforms.js";
import { h, field, check, isoDay, showProblem, fieldError, clearProblems, timeZonePicker, words } from "../ui.js";
import { t } from "../i18n.js";
import { remember } from "./page.js";

/** The request form: a new calendar, or (with `calendarId`) a regeneration of it;
 * `reopen(id)` shows a calendar again when its page is the one open. */
export async function requestForm(calendarId, previous, reopen) {
  const before = previous ?? {};
  const constraints = before.constraints ?? {};
  // A new calendar starts with the channels connected (else every one Almanac publishes
  // to); a regeneration with its own, offered beside the others even when the server
  // does not know them.
  const connected = before.channels ? [] : await connectedPlatforms();
  const chosen = new Set(before.channels ?? (connected.length ? connected : publishingChannels().map((c) => c.name)));
  const offered = [...new Set([...allChannels().map((c) => c.name), ...chosen])];
  const boxes = offered.map((c) => check(channelLabel(c), { name: "channel", value: c, checked: chosen.has(c) }));
  const cadence = h("select", { name: "cadence" },
    ["daily", "weekly", "monthly"].map((c) => h("option", { value: c, selected: c === (before.cadence ?? "daily") }, t(`calendar.cadence.${c}`))));
  const start = h("input", { type: "date", name: "start", required: true, value: before.start ?? isoDay(7) });
  const end = h("input", { type: "date", name: "end", required: true, value: before.end ?? isoDay(36) });
  const topic = h("input", { name: "topic", value: constraints.topic ?? "", placeholder: t("calendar.topicExample") });
  const times = h("input", { name: "timesOfDay", value: (constraints.timesOfDay ?? ["18:00"]).join(", ") });
  const timezone = timeZonePicker("timezone", constraints.timezone);
  const audience = h("input", { name: "audience", value: constraints.audience ?? "" });
  const problem = h("div");
  const size = h("p", { class: "hint", id: "plan-size", "aria-live": "polite" });
  const submit = h("button", { type: "submit", id: calendarId ? "regenerate-submit" : "generate" },
    calendarId ? t("calendar.regenerate") : t("calendar.generate"));
  const form = h("form", { class: "panel stack", id: calendarId ? "regenerate-form" : "calendar-form", "data-needs": "editor" },
    h("h2", {}, calendarId ? t("calendar.regenerate") : t("calendar.new")),
    h("fieldset", { id: "channels-field" }, h("legend", {}, t("calendar.channels")), boxes,
      connected.length ? h("p", { class: "hint", id: "channels-connected" }, t("calendar.channelsConnected")) : null),
    h("div", { class: "row" }, field(t("calendar.cadence"), cadence), field(t("calendar.firstDay"), start), field(t("calendar.lastDay"), end)),
    h("div", { class: "row" }, field(t("calendar.topic"), topic), field(t("calendar.times"), times),
      field(t("calendar.timezone"), timezone), field(t("calendar.audience"), audience)),
    size, submit, problem);
  const fieldset = form.querySelector("#channels-field");
  // What would be refused, said at its field before anyone presses Generate.
  const validate = () => {
    clearProblems(form);
    let ok = true;
    if (!form.querySelector("input[name=channel]:checked")) {
      fieldError(fieldset, t("errors.field.channels"));
      ok = false;
    }
    const span = (Date.parse(end.value) - Date.parse(start.value)) / 86400e3;
    if (!start.value || !end.value || !(span >= 0 && span <= 365)) {
      fieldError(end, t("errors.field.end"));
      ok = false;
    }
    if (!words(times.value).length || words(times.value).some((w) => !/^([01]\d|2[0-3]):[0-5]\d$/.test(w))) {
      fieldError(times, t("errors.field.constraints.timesOfDay"));
      ok = false;
    }
    submit.disabled = !ok;
    const count = planSize(form.querySelectorAll("input[name=channel]:checked").length, cadence.value, start.value, end.value, words(times.value).length);
    size.textContent = ok ? estimate(count, Boolean(calendarId)) : "";
    return ok;
  };
  form.addEventListener("input", validate);
  form.addEventListener("change", validate);
  queueMicrotask(validate);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!validate()) return;
    const channels = [...form.querySelectorAll("input[name=channel]:checked")].map((b) => b.value);
    const body = {
      channels, cadence: cadence.value, start: start.value, end: end.value,
      constraints: { ...constraints, timesOfDay: words(times.value), timezone: timezone.value },
    };
    if (topic.value.trim()) body.constraints.topic = topic.value.trim(); else delete body.constraints.topic;
    if (audience.value.trim()) body.constraints.audience = audience.value.trim(); else delete body.constraints.audience;
    if (calendarId) body.calendarId = calendarId;
    submit.disabled = true;
    try {
      const { data, meta } = await api("POST", "/v1/ai/calendar", body, { envelope: true, headers: { Prefer: "respond-async" } });
      remember(data.calendarId, { jobId: data.jobId, runId: data.runId, mode: meta.mode, regenerate: !!calendarId });
      if (location.hash === `#/calendar/${data.calendarId}`) {
        form.closest("dialog")?.close();
        await reopen(data.calendarId);
      } else {
        location.hash = `#/calendar/${data.calendarId}`;
      }
    } catch (error) {
      showProblem(error, {
        root: form, problem,
        fields: {
          channels: fieldset, cadence, start, end, constraints: topic, "constraints.topic": topic,
          "constraints.timesOfDay": times, "constraints.timezone": timezone, "constraints.audience": audience,
        },
      });
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** About how many entries a request makes (the server's grid decides exactly). */
function planSize(channels, cadence, start, end, times) {
  const days = Math.round((Date.parse(end) - Date.parse(start)) / 86400e3) + 1;
  if (!(days > 0)) return 0;
  const dates = { daily: days, weekly: Math.ceil(days / 7), monthly: Math.ceil(days / 30.4) }[cadence] ?? days;
  return dates * channels * Math.max(times, 1);
}

/** Roughly how long a plan of `count` entries takes: the AI writes about a dozen a second. */
const ENTRIES_PER_SECOND = 12;
/** A run stops here (seed 000's 30 s) and Continue writes the rest. */
const RUN_LIMIT_SECONDS = 30;

function estimate(count, regeneration) {
  const seconds = Math.ceil(count / ENTRIES_PER_SECOND) + 3;
  const duration = seconds < 90 ? t("calendar.aboutSeconds", { count: Math.ceil(seconds / 5) * 5 })
    : t("calendar.aboutMinutes", { count: Math.round(seconds / 60) });
  const text = t("calendar.planSize", { count, duration });
  const parts = t(regeneration ? "calendar.planInPartsProposal" : "calendar.planInParts");
  return seconds > RUN_LIMIT_SECONDS ? `${text} ${parts}` : text;
}

/** The platforms the caller has an account connected on (none when they cannot be read). */
const connectedPlatforms = () =>
  connectedChannels().then((list) => [...new Set(list.map((c) => c.platform))], () => []);
