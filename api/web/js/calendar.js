// Content calendars (seed 000): a request form, the month or week grid filling entry by
// entry from the run's event stream (the page stays usable meanwhile), edits and moves,
// Continue for a plan that stopped at the time limit, regeneration with a diff to accept,
// exports. A reload restores the calendar, resumes a running stream from the last event it
// saw, and reopens a proposal still waiting for an answer.

import { api, download, follow } from "./api.js";
import { CalendarGrid } from "./calendar_grid.js";
import { feedButton } from "./feed.js";
import { allChannels, channelLabel, publishingChannels } from "./platforms.js";
import { compose, textCounter } from "./limits.js";
import { h, field, check, fill, toast, day, isoDay, showError, showProblem, fieldError, clearProblems, timeZonePicker, confirmAction, guardUnsaved, progressText, words } from "./ui.js";
import { t, formatTime } from "./i18n.js";

let page = null;

export function leave() {
  page?.source?.close();
  page = null;
}

export async function show(view, [id]) {
  leave();
  const list = h("div", { class: "panel", id: "calendar-list" }, h("p", { class: "muted" }, t("app.loading")));
  const main = h("div", { class: "stack", id: "calendar-main" });
  fill(view, h("h1", {}, t("calendar.title")), h("div", { class: "split calendar-page" }, list, main));
  renderList(list, id);
  if (id) await openCalendar(main, id);
  else main.append(requestForm(null, null));
}

async function renderList(el, selected) {
  try {
    const { items } = await api("GET", "/v1/calendars?limit=50");
    fill(el,
      h("h2", {}, t("calendar.yours")),
      h("p", {}, h("a", { href: "#/calendar", id: "new-calendar" }, t("calendar.newLink"))),
      items.length ? h("ul", { class: "list" }, items.map((c) => h("li", {},
        h("a", { href: `#/calendar/${c.id}`, "aria-current": c.id === selected ? "page" : null },
          c.name || t("calendar.untitled")),
        h("div", { class: "muted" }, t("calendar.listMeta", { count: c.entries, version: c.currentVersion }))))) :
        h("p", { class: "muted" }, t("calendar.noneYet")));
  } catch (error) {
    showError(error, el);
  }
}

/** The request form: a new calendar, or (with `calendarId`) a regeneration of it. */
function requestForm(calendarId, previous) {
  const before = previous ?? {};
  const constraints = before.constraints ?? {};
  // A new calendar starts with the channels Almanac publishes to; a regeneration with its
  // own, offered beside the others even when the server does not know them.
  const chosen = new Set(before.channels ?? publishingChannels().map((c) => c.name));
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
  const form = h("form", { class: "panel stack", id: calendarId ? "regenerate-form" : "calendar-form" },
    h("h2", {}, calendarId ? t("calendar.regenerate") : t("calendar.new")),
    h("fieldset", { id: "channels-field" }, h("legend", {}, t("calendar.channels")), boxes),
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
    size.textContent = ok ? estimate(count) : "";
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
        await show(document.getElementById("view"), [data.calendarId]);
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

function estimate(count) {
  const seconds = Math.ceil(count / ENTRIES_PER_SECOND) + 3;
  const duration = seconds < 90 ? t("calendar.aboutSeconds", { count: Math.ceil(seconds / 5) * 5 })
    : t("calendar.aboutMinutes", { count: Math.round(seconds / 60) });
  const text = t("calendar.planSize", { count, duration });
  return seconds > RUN_LIMIT_SECONDS ? `${text} ${t("calendar.planInParts")}` : text;
}

// What a reload needs to resume: the running job of a calendar and the last event seen.
const runKey = (calendarId) => `almanac.run.${calendarId}`;
function remember(calendarId, run) { sessionStorage.setItem(runKey(calendarId), JSON.stringify(run)); }
function recall(calendarId) {
  try { return JSON.parse(sessionStorage.getItem(runKey(calendarId))); } catch { return null; }
}

async function openCalendar(main, id) {
  const state = { id, source: null, detail: null, run: null };
  page = state;
  state.grid = new CalendarGrid({
    onOpen: (key) => openEditor(state, key),
    onMove: (key, date, time) => moveEntry(state, key, date, time),
  });
  const title = h("h2", { id: "calendar-title" }, t("calendar.untitled"));
  const mode = h("span", { class: "badge", id: "mode" });
  const progress = h("progress", { id: "progress", max: 1, value: 0, hidden: true, "aria-label": t("common.generationProgress") });
  const status = h("p", { id: "run-status", role: "status", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel", hidden: true }, t("common.cancel"));
  const resume = h("button", { type: "button", id: "continue", hidden: true }, t("calendar.continue"));
  const regenerate = h("button", { type: "button", class: "secondary", id: "regenerate" }, t("calendar.regenerateOpen"));
  // The name, changed in place: kept by every regeneration once set.
  const rename = h("button", { type: "button", class: "link", id: "rename" }, t("calendar.rename"));
  rename.addEventListener("click", () => {
    const input = h("input", { name: "calendarName", value: title.textContent, maxlength: 200, required: true });
    const form = h("form", { class: "row", id: "rename-form" }, field(t("calendar.name"), input),
      h("button", { type: "submit" }, t("common.save")),
      h("button", { type: "button", class: "secondary", onclick: () => form.replaceWith(heading) }, t("common.cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const saved = await api("PATCH", `/v1/calendars/${id}`, { name: input.value });
        title.textContent = saved.name;
        form.replaceWith(heading);
        toast(t("calendar.renamed"));
        renderList(document.getElementById("calendar-list"), id);
      } catch (error) {
        showProblem(error, { root: form, fields: { name: input } });
      }
    });
    heading.replaceWith(form);
    input.focus();
  });
  const heading = h("div", { class: "row title-row" }, title, rename, mode);
  const exports = h("details", { class: "menu", id: "export-menu" },
    h("summary", { class: "button secondary" }, t("calendar.exportMenu")),
    h("div", { class: "menu-items" }, ["ics", "csv", "json"].map((format) => h("button", {
      type: "button", class: "secondary", id: `export-${format}`,
      onclick: () => download(`/v1/calendars/${id}/export?format=${format}`, `calendar.${format}`)
        .catch((e) => showError(e)),
    }, t("calendar.export", { format: format.toUpperCase() })))));
  const diff = h("div", { id: "diff" });
  state.els = { title, mode, progress, status, cancel, resume, diff, main };
  fill(main,
    h("div", { class: "panel calendar-head" },
      h("div", { class: "row spread" }, heading,
        h("div", { class: "row actions" }, cancel, resume, regenerate, exports, feedButton(id),
          h("a", { href: `#/publishing/${id}`, id: "to-publishing", class: "button" }, t("calendar.toPublishing")))),
      progress, status),
    diff, state.grid.el, editor(state), mover(state));
  regenerate.addEventListener("click", () => {
    const form = requestForm(id, state.detail?.runs?.[0]?.request);
    const close = h("button", { type: "button", class: "secondary", id: "regenerate-close" }, t("common.close"));
    const dialog = h("dialog", { id: "regenerate-dialog", "aria-label": t("calendar.regenerate") }, form, close);
    main.append(dialog);
    // A changed request is not dropped by Esc or Close without asking.
    const values = () => JSON.stringify([...form.elements].map((e) => (e.type === "checkbox" ? e.checked : e.value)));
    const initial = values();
    guardUnsaved(dialog, () => values() !== initial, close);
    dialog.addEventListener("close", () => dialog.remove());
    dialog.showModal();
  });
  cancel.addEventListener("click", async () => {
    if (!state.run?.jobId) return;
    cancel.disabled = true;
    try {
      await api("POST", `/v1/jobs/${state.run.jobId}/cancel`);
      status.textContent = t("calendar.cancelling");
    } catch (error) {
      showError(error);
      cancel.disabled = false;
    }
  });
  resume.addEventListener("click", () => continueRun(state));
  await reload(state);
  const latest = state.detail.runs[0];
  const remembered = recall(id);
  // A run still going: resume its stream (from the last event this tab saw, after a reload).
  if (latest?.jobId && ["pending", "running"].includes(latest.status)) {
    const run = remembered?.jobId === latest.jobId ? remembered
      : { jobId: latest.jobId, runId: latest.id, mode: latest.mode, regenerate: latest.version > 1 && !latest.continues };
    stream(state, run);
  } else if (state.detail.pendingRun) {
    // A proposal nobody answered yet, on this device or another.
    await showDiff(state, state.detail.pendingRun.runId);
  }
}

/** Starts the run that writes what a stopped one did not (only the missing slots). */
async function continueRun(state) {
  const latest = state.detail?.runs?.[0];
  if (!latest) return;
  state.els.resume.disabled = true;
  try {
    const { data, meta } = await api("POST", `/v1/calendars/${state.id}/runs/${latest.id}/continue`, undefined,
      { envelope: true, headers: { Prefer: "respond-async" } });
    state.els.resume.hidden = true;
    state.els.status.className = "";
    stream(state, { jobId: data.jobId, runId: data.runId, mode: meta.mode, regenerate: false });
  } catch (error) {
    showError(error);
  } finally {
    state.els.resume.disabled = false;
  }
}

/** Saves a move (the grid's `onMove`); the grid already shows it there. */
async function moveEntry(state, key, date, time) {
  const entry = state.grid.get(key);
  if (!entry?.id) {
    toast(t("calendar.notSavedYet"));
    throw new Error("not saved yet");
  }
  try {
    const saved = await api("PATCH", `/v1/calendars/${state.id}/entries/${entry.id}`, { date, time });
    if (saved.key !== key) state.grid.remove(key);
    state.grid.upsert(saved);
    toast(t("calendar.moved", { day: day(saved.date), time: formatTime(saved.time.slice(0, 5)) }));
  } catch (error) {
    showError(error);
    throw error;
  }
}

async function reload(state) {
  const detail = await api("GET", `/v1/calendars/${state.id}`);
  if (page !== state) return;
  state.detail = detail;
  // The list beside it says how many entries and which version: kept current.
  const list = document.getElementById("calendar-list");
  if (list) renderList(list, state.id);
  state.els.title.textContent = detail.calendar.name || t("calendar.untitled");
  const latest = detail.runs[0];
  setMode(state, latest?.mode);
  state.grid.setRequest(detail.calendar.request);
  state.grid.reset(detail.entries);
  // A first run or a continuation that stopped early: Continue writes the rest.
  const fills = latest && (latest.version === 1 || latest.continues);
  const stopped = latest && ["timeout", "failed", "cancelled"].includes(latest.status);
  const missing = (latest?.slots ?? 0) - detail.entries.length;
  state.els.resume.hidden = !(fills && stopped && missing > 0);
  state.els.resume.textContent = t("calendar.continueMissing", { count: Math.max(missing, 0) });
}

function setMode(state, mode) {
  if (!mode) return;
  // Only the fallback is worth a word: a calendar written without the AI service.
  state.els.mode.hidden = mode === "service";
  state.els.mode.textContent = t("calendar.legacy");
  state.els.mode.className = "badge warn";
  state.els.mode.title = t("calendar.legacyHint");
}

/** The entry editor: it stays open until the server takes the edit (a refusal is shown at
 * its field, nothing typed is lost), counts the post's text against its platform's limits
 * as it is typed, and asks before a changed entry is closed (Esc, Close, Back). */
function editor(state) {
  const input = (name, attrs = {}) => h("input", { name, ...attrs });
  const fields = {
    title: input("title", { required: true, maxlength: 200 }),
    caption: h("textarea", { name: "caption" }),
    hashtags: input("hashtags"),
    callToAction: input("callToAction"),
    date: input("date", { type: "date" }),
    time: input("time", { type: "time" }),
    mediaUrl: input("mediaUrl", { type: "url", placeholder: "https://…" }),
  };
  const problem = h("div", { id: "entry-problem" });
  const counter = h("div", { id: "entry-counter" });
  const save = h("button", { type: "submit", value: "save", id: "entry-save" }, t("common.save"));
  const form = h("form", { method: "dialog", class: "stack" },
    h("h2", { id: "entry-editor-title" }, t("calendar.editEntry")),
    h("p", { class: "muted", id: "entry-editor-key" }),
    field(t("calendar.entryTitle"), fields.title), field(t("calendar.caption"), fields.caption),
    field(t("calendar.hashtags"), fields.hashtags),
    field(t("calendar.callToAction"), fields.callToAction), counter,
    h("div", { class: "row" }, field(t("calendar.date"), fields.date), field(t("calendar.time"), fields.time)),
    field(t("calendar.mediaUrl"), fields.mediaUrl),
    problem,
    h("div", { class: "row" }, save,
      h("button", { type: "button", class: "secondary", id: "entry-move", onclick: () => state.openMover(state.editing) }, t("calendar.move")),
      h("button", { type: "button", value: "cancel", class: "secondary", id: "entry-close" }, t("common.close"))));
  const dialog = h("dialog", { id: "entry-editor", "aria-labelledby": "entry-editor-title" }, form);
  const snapshot = () => JSON.stringify(Object.values(fields).map((f) => f.value));
  guardUnsaved(dialog, () => state.editorSnapshot !== undefined && snapshot() !== state.editorSnapshot, dialog.querySelector("#entry-close"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entry = state.editing && state.grid.get(state.editing);
    if (!entry) return;
    const patch = {
      title: fields.title.value, caption: fields.caption.value,
      hashtags: words(fields.hashtags.value), callToAction: fields.callToAction.value,
      date: fields.date.value, time: fields.time.value.slice(0, 5),
      mediaUrl: fields.mediaUrl.value.trim() || null,
    };
    save.disabled = true;
    clearProblems(form);
    problem.replaceChildren();
    try {
      const saved = await api("PATCH", `/v1/calendars/${state.id}/entries/${entry.id}`, patch);
      if (saved.key !== entry.key) state.grid.remove(entry.key);
      state.grid.upsert(saved);
      state.editorSnapshot = undefined;
      dialog.close("save");
      toast(t("calendar.entrySaved"));
    } catch (error) {
      showProblem(error, { problem, fields, root: form });
    } finally {
      save.disabled = false;
    }
  });
  state.openEditorWith = async (entry) => {
    state.editing = entry.key;
    fields.title.value = entry.title;
    fields.caption.value = entry.caption ?? "";
    fields.hashtags.value = (entry.hashtags ?? []).join(" ");
    fields.callToAction.value = entry.callToAction ?? "";
    fields.date.value = entry.date;
    fields.time.value = (entry.time ?? "").slice(0, 5);
    fields.mediaUrl.value = entry.mediaUrl ?? "";
    dialog.querySelector("#entry-editor-key").textContent = `${channelLabel(entry.channel)} · ${day(entry.date)}${entry.edited ? ` · ${t("calendar.edited")}` : ""}`;
    problem.replaceChildren();
    clearProblems(form);
    // The post's text as the server composes it, against the entry's platform's limits.
    const live = await textCounter(entry.channel, entry.format, () => ({
      text: compose(fields.caption.value, fields.callToAction.value, words(fields.hashtags.value)),
      title: fields.title.value.trim(),
    }));
    counter.replaceChildren(live.el);
    for (const name of ["title", "caption", "hashtags", "callToAction"]) fields[name].oninput = live.update;
    dialog.returnValue = "";
    state.editorSnapshot = snapshot();
    dialog.showModal();
    fields.title.focus();
  };
  return dialog;
}

/** "Move…": another day and time for an entry, from the keyboard as well as the pointer. */
function mover(state) {
  const date = h("input", { type: "date", name: "moveDate", required: true });
  const time = h("input", { type: "time", name: "moveTime", required: true });
  const what = h("p", { class: "muted", id: "move-what" });
  const zone = h("p", { class: "hint", id: "move-zone" });
  const dialog = h("dialog", { id: "move-dialog", "aria-labelledby": "move-title" },
    h("form", { method: "dialog", class: "stack" },
      h("h2", { id: "move-title" }, t("calendar.moveTitle")), what,
      h("div", { class: "row" }, field(t("calendar.date"), date), field(t("calendar.time"), time)), zone,
      h("div", { class: "row" },
        h("button", { type: "submit", value: "move", id: "move-save" }, t("calendar.moveHere")),
        h("button", { type: "submit", value: "cancel", formnovalidate: true, class: "secondary", id: "move-close" }, t("common.close")))));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "move" || !dialog.dataset.key) return;
    document.getElementById("entry-editor")?.close();
    await state.grid.move(dialog.dataset.key, date.value, time.value.slice(0, 5));
  });
  state.openMover = (key) => {
    const entry = state.grid.get(key);
    if (!entry) return;
    dialog.dataset.key = key;
    date.value = entry.date;
    time.value = String(entry.time).slice(0, 5);
    what.textContent = `${channelLabel(entry.channel)} · ${entry.title}`;
    zone.textContent = t("calendar.timesIn", { zone: state.grid.range.timezone });
    dialog.returnValue = "";
    dialog.showModal();
    date.focus();
  };
  return dialog;
}

/** Opens the editor; an entry only streamed so far gets its saved id first. */
async function openEditor(state, key) {
  let entry = state.grid.get(key);
  if (!entry.id) {
    try {
      const detail = await api("GET", `/v1/calendars/${state.id}`);
      for (const saved of detail.entries) {
        const mine = state.grid.get(saved.key);
        if (mine) state.grid.entries.set(saved.key, { ...mine, ...saved });
      }
      entry = state.grid.get(key);
    } catch (error) {
      return showError(error);
    }
    if (!entry.id) return toast(t("calendar.notSavedYet"));
  }
  state.openEditorWith(entry);
}

const lastEventKey = (jobId) => `almanac.lastEvent.${jobId}`;

/** Follows a run's events: the grid fills (first runs) and the progress bar moves. */
function stream(state, run) {
  const { progress, status, cancel } = state.els;
  state.run = run;
  setMode(state, run.mode);
  remember(state.id, run);
  progress.hidden = false;
  cancel.hidden = false;
  cancel.disabled = false;
  status.textContent = run.regenerate ? t("calendar.regenerating") : t("common.generating");
  status.dataset.state = "running";
  const after = Number(sessionStorage.getItem(lastEventKey(run.jobId)) ?? 0);
  state.source = follow(run.jobId, {
    after,
    onId: (id) => sessionStorage.setItem(lastEventKey(run.jobId), String(id)),
    on: {
      progress: (event) => {
        if (event.total) { progress.max = event.total; progress.value = event.completed; }
        if (!run.regenerate) status.textContent = progressText(event);
      },
      entry: (event) => {
        setMode(state, event.meta?.mode);
        progress.max = event.meta?.total ?? progress.max;
        if (run.regenerate) {
          progress.value = Math.max(progress.value, (event.meta?.position ?? 0) + 1);
          return; // proposals: shown as a diff when the run ends
        }
        state.grid.upsert(event.data);
        progress.value = state.grid.entries.size;
        status.textContent = t("calendar.generatingCount", { done: state.grid.entries.size, count: progress.max });
      },
      done: (event) => finished(state, run, event),
    },
  });
}

async function finished(state, run, event) {
  const { progress, status, cancel } = state.els;
  sessionStorage.removeItem(lastEventKey(run.jobId));
  cancel.hidden = true;
  progress.hidden = true;
  status.dataset.state = event.status;
  if (page !== state) return;
  await reload(state);
  const kept = state.grid.entries.size;
  const total = state.detail.runs[0]?.slots ?? kept;
  const message = {
    succeeded: run.regenerate ? t("calendar.regenerated") : t("calendar.done", { count: kept }),
    cancelled: t("calendar.cancelled", { count: kept }),
    timeout: t("calendar.timeout", { count: kept, total, missing: Math.max(total - kept, 0) }),
    failed: t("calendar.failed", { count: kept, reason: event.error?.message ?? "" }),
  }[event.status] ?? t("calendar.finished", { status: t(`status.${event.status}`) });
  status.textContent = message;
  status.className = event.status === "succeeded" ? "" : `notice ${event.status === "failed" ? "bad" : "warn"}`;
  // A regeneration stays remembered (by `stream`) until its diff is accepted or dismissed.
  if (run.regenerate) await showDiff(state, run.runId);
  else sessionStorage.removeItem(runKey(state.id));
}

/** The proposed changes of a regeneration; the user accepts some or all. */
async function showDiff(state, runId) {
  const { diff } = state.els;
  let detail;
  try {
    detail = await api("GET", `/v1/calendars/${state.id}/runs/${runId}`);
  } catch (error) {
    return showError(error, diff);
  }
  const pending = detail.changes.filter((c) => !c.appliedAt);
  if (!pending.length) {
    sessionStorage.removeItem(runKey(state.id));
    return fill(diff);
  }
  const label = (c) => (c.after ?? c.before ?? {}).title ?? t("calendar.untitledEntry");
  const rows = pending.map((c) => {
    const box = h("input", { type: "checkbox", value: c.id, checked: !c.conflict, "aria-label": t("calendar.acceptChange", { kind: t(`calendar.change.${c.kind}`), title: label(c) }) });
    return h("div", { class: `change${c.conflict ? " conflict" : ""}`, dataset: { kind: c.kind, key: c.key } },
      h("label", { class: "check" }, box,
        h("span", { class: `badge ${c.kind === "added" ? "ok" : c.kind === "removed" ? "bad" : ""}` }, t(`calendar.change.${c.kind}`)),
        " ", label(c)),
      c.conflict ? h("span", { class: "badge warn" }, t("calendar.conflict")) : null,
      h("div", { class: "muted" }, c.kind === "updated" ? `${c.before?.title} → ${c.after?.title}` : label(c)));
  });
  const counts = ["added", "updated", "removed"].map((k) => t(`calendar.count.${k}`, { count: pending.filter((c) => c.kind === k).length })).join(", ");
  const accept = async (body) => {
    // Entries an accept would remove are named before they go.
    const chosen = body.all ? pending.filter((c) => !c.conflict) : pending.filter((c) => body.changeIds.includes(c.id));
    const removed = chosen.filter((c) => c.kind === "removed").length;
    if (removed > 0) {
      const sure = await confirmAction({ title: t("confirm.acceptRemoves", { count: removed }), body: t("confirm.acceptRemovesBody"), confirm: t("confirm.acceptRemovesYes") });
      if (!sure) return;
    }
    try {
      const result = await api("POST", `/v1/calendars/${state.id}/runs/${runId}/accept`, body);
      toast(t("calendar.applied", { count: result.applied.length }));
      state.els.status.textContent = t("calendar.appliedNow", { count: result.applied.length, entries: result.entries });
      state.els.status.className = "";
      sessionStorage.removeItem(runKey(state.id));
      fill(diff);
      await reload(state);
    } catch (error) {
      showError(error);
    }
  };
  fill(diff, h("section", { class: "panel stack", "aria-label": t("calendar.proposed") },
    h("h2", {}, t("calendar.proposedVersion", { version: detail.run.version })),
    h("p", { class: "muted" }, t("calendar.proposedHint", { counts })),
    h("div", { class: "row" },
      h("button", { type: "button", id: "accept-selected", onclick: () => accept({ changeIds: [...diff.querySelectorAll("input:checked")].map((b) => b.value) }) }, t("calendar.acceptSelected")),
      h("button", { type: "button", id: "accept-all", class: "secondary", onclick: () => accept({ all: true }) }, t("calendar.acceptAll")),
      h("button", { type: "button", class: "link", id: "diff-later", onclick: () => { sessionStorage.removeItem(runKey(state.id)); fill(diff); } }, t("calendar.later"))),
    h("div", { class: "scroll" }, rows)));
}
