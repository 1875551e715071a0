// Content calendars (seed 000): a request form, the grid filling entry by entry from the
// run's event stream (the page stays usable meanwhile), inline edits, regeneration with a
// diff to accept, exports. A reload restores the calendar and resumes a running stream
// from the last event it saw.

import { api, download, follow } from "./api.js";
import { h, field, check, fill, toast, day, isoDay, showError, showProblem, fieldError, clearProblems, timeZonePicker, confirmAction, guardUnsaved, platformBadge, progressText, words } from "./ui.js";
import { t } from "./i18n.js";

const CHANNELS = ["tiktok", "instagram", "linkedin", "facebook", "x", "youtube"];
let page = null;

export function leave() {
  page?.source?.close();
  page = null;
}

export async function show(view, [id]) {
  leave();
  const list = h("div", { class: "panel", id: "calendar-list" }, h("p", { class: "muted" }, t("app.loading")));
  const main = h("div", { class: "stack", id: "calendar-main" });
  fill(view, h("h1", {}, t("calendar.title")), h("div", { class: "split" }, list, main));
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
  const chosen = new Set(before.channels ?? ["tiktok", "instagram", "linkedin"]);
  const boxes = CHANNELS.map((c) => check(t(`platform.${c}`), { name: "channel", value: c, checked: chosen.has(c) }));
  const cadence = h("select", { name: "cadence" },
    ["daily", "weekly", "monthly"].map((c) => h("option", { value: c, selected: c === (before.cadence ?? "daily") }, t(`calendar.cadence.${c}`))));
  const start = h("input", { type: "date", name: "start", required: true, value: before.start ?? isoDay(7) });
  const end = h("input", { type: "date", name: "end", required: true, value: before.end ?? isoDay(36) });
  const topic = h("input", { name: "topic", value: constraints.topic ?? "", placeholder: t("calendar.topicExample") });
  const times = h("input", { name: "timesOfDay", value: (constraints.timesOfDay ?? ["18:00"]).join(", ") });
  const timezone = timeZonePicker("timezone", constraints.timezone);
  const audience = h("input", { name: "audience", value: constraints.audience ?? "" });
  const problem = h("div");
  const submit = h("button", { type: "submit", id: calendarId ? "regenerate-submit" : "generate" },
    calendarId ? t("calendar.regenerate") : t("calendar.generate"));
  const form = h("form", { class: "panel stack", id: calendarId ? "regenerate-form" : "calendar-form" },
    h("h2", {}, calendarId ? t("calendar.regenerate") : t("calendar.new")),
    h("fieldset", { id: "channels-field" }, h("legend", {}, t("calendar.channels")), boxes),
    h("div", { class: "row" }, field(t("calendar.cadence"), cadence), field(t("calendar.firstDay"), start), field(t("calendar.lastDay"), end)),
    h("div", { class: "row" }, field(t("calendar.topic"), topic), field(t("calendar.times"), times),
      field(t("calendar.timezone"), timezone), field(t("calendar.audience"), audience)),
    submit, problem);
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

// What a reload needs to resume: the running job of a calendar and the last event seen.
const runKey = (calendarId) => `almanac.run.${calendarId}`;
function remember(calendarId, run) { sessionStorage.setItem(runKey(calendarId), JSON.stringify(run)); }
function recall(calendarId) {
  try { return JSON.parse(sessionStorage.getItem(runKey(calendarId))); } catch { return null; }
}

async function openCalendar(main, id) {
  const state = {
    id, entries: new Map(), days: new Map(), source: null, detail: null, run: null,
  };
  page = state;
  const title = h("h2", { id: "calendar-title" }, t("calendar.untitled"));
  const mode = h("span", { class: "badge", id: "mode" });
  const progress = h("progress", { id: "progress", max: 1, value: 0, hidden: true, "aria-label": t("common.generationProgress") });
  const status = h("p", { id: "run-status", role: "status", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel", hidden: true }, t("common.cancel"));
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
  const heading = h("div", { class: "row" }, title, rename, mode);
  const exports = ["ics", "csv", "json"].map((format) => h("button", {
    type: "button", class: "secondary", id: `export-${format}`,
    onclick: () => download(`/v1/calendars/${id}/export?format=${format}`, `calendar.${format}`)
      .catch((e) => showError(e)),
  }, t("calendar.export", { format: format.toUpperCase() })));
  const diff = h("div", { id: "diff" });
  const grid = h("div", { class: "days", id: "grid" });
  state.els = { title, mode, progress, status, cancel, grid, diff, main };
  fill(main,
    h("div", { class: "panel stack" },
      heading,
      progress, status,
      h("div", { class: "row" }, cancel, regenerate, ...exports,
        h("a", { href: `#/publishing/${id}`, id: "to-publishing" }, t("calendar.toPublishing")))),
    diff, grid, editor(state));
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
  await reload(state);
  const latest = state.detail.runs[0];
  const remembered = recall(id);
  // A run still going: resume its stream (from the last event this tab saw, after a reload).
  if (latest?.jobId && ["pending", "running"].includes(latest.status)) {
    const run = remembered?.jobId === latest.jobId ? remembered
      : { jobId: latest.jobId, runId: latest.id, mode: latest.mode, regenerate: latest.version > 1 };
    stream(state, run);
  } else if (remembered?.runId && remembered.regenerate) {
    await showDiff(state, remembered.runId);
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
  state.entries.clear();
  state.days.clear();
  state.els.grid.replaceChildren();
  for (const entry of detail.entries) upsert(state, entry);
  if (!detail.entries.length) state.els.grid.append(h("p", { class: "muted", id: "empty" }, t("calendar.noEntries")));
}

function setMode(state, mode) {
  if (!mode) return;
  // Only the fallback is worth a word: a calendar written without the AI service.
  state.els.mode.hidden = mode === "service";
  state.els.mode.textContent = t("calendar.legacy");
  state.els.mode.className = "badge warn";
  state.els.mode.title = t("calendar.legacyHint");
}

/** Puts an entry in its day, in time order, replacing the one with its key. */
function upsert(state, entry) {
  document.getElementById("empty")?.remove();
  const known = state.entries.get(entry.key);
  const merged = known ? { ...known, ...entry } : entry;
  state.entries.set(entry.key, merged);
  let dayEl = state.days.get(merged.date);
  if (!dayEl) {
    dayEl = h("section", { class: "day", dataset: { date: merged.date } }, h("h3", {}, day(merged.date)));
    const later = [...state.els.grid.children].find((d) => d.dataset.date > merged.date);
    state.els.grid.insertBefore(dayEl, later ?? null);
    state.days.set(merged.date, dayEl);
  }
  const order = `${merged.time} ${merged.channel}`;
  const button = h("button", {
    type: "button", class: `entry${merged.edited ? " edited" : ""}`,
    dataset: { key: merged.key, order }, "aria-label": t("calendar.entryLabel", { channel: t(`platform.${merged.channel}`), day: day(merged.date), time: merged.time.slice(0, 5), title: merged.title }),
    onclick: () => openEditor(state, merged.key),
  },
  h("div", {}, platformBadge(merged.channel), " ", merged.time.slice(0, 5),
    merged.edited ? h("span", { class: "badge edited ml" }, t("calendar.edited")) : null),
  h("div", { class: "title" }, merged.title));
  const existing = dayEl.querySelector(`[data-key="${CSS.escape(merged.key)}"]`);
  if (existing) {
    existing.replaceWith(button);
  } else {
    const after = [...dayEl.querySelectorAll(".entry")].find((b) => b.dataset.order > order);
    dayEl.insertBefore(button, after ?? null);
  }
}

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
  const problem = h("div");
  const dialog = h("dialog", { id: "entry-editor", "aria-labelledby": "entry-editor-title" },
    h("form", { method: "dialog", class: "stack" },
      h("h2", { id: "entry-editor-title" }, t("calendar.editEntry")),
      h("p", { class: "muted", id: "entry-editor-key" }),
      field(t("calendar.entryTitle"), fields.title), field(t("calendar.caption"), fields.caption),
      field(t("calendar.hashtags"), fields.hashtags),
      field(t("calendar.callToAction"), fields.callToAction),
      h("div", { class: "row" }, field(t("calendar.date"), fields.date), field(t("calendar.time"), fields.time)),
      field(t("calendar.mediaUrl"), fields.mediaUrl),
      problem,
      h("div", { class: "row" },
        h("button", { type: "submit", value: "save", id: "entry-save" }, t("common.save")),
        h("button", { type: "button", value: "cancel", class: "secondary", id: "entry-close" }, t("common.close")))));
  const snapshot = () => JSON.stringify(Object.values(fields).map((f) => f.value));
  guardUnsaved(dialog, () => state.editorSnapshot !== undefined && snapshot() !== state.editorSnapshot, dialog.querySelector("#entry-close"));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "save" || !state.editing) return;
    const entry = state.entries.get(state.editing);
    const patch = {
      title: fields.title.value, caption: fields.caption.value,
      hashtags: words(fields.hashtags.value), callToAction: fields.callToAction.value,
      date: fields.date.value, time: fields.time.value.slice(0, 5),
      mediaUrl: fields.mediaUrl.value.trim() || null,
    };
    try {
      const saved = await api("PATCH", `/v1/calendars/${state.id}/entries/${entry.id}`, patch);
      if (saved.key !== entry.key) removeEntry(state, entry.key);
      upsert(state, saved);
      toast(t("calendar.entrySaved"));
    } catch (error) {
      showError(error);
    }
  });
  state.openEditorWith = (entry) => {
    state.editing = entry.key;
    fields.title.value = entry.title;
    fields.caption.value = entry.caption ?? "";
    fields.hashtags.value = (entry.hashtags ?? []).join(" ");
    fields.callToAction.value = entry.callToAction ?? "";
    fields.date.value = entry.date;
    fields.time.value = (entry.time ?? "").slice(0, 5);
    fields.mediaUrl.value = entry.mediaUrl ?? "";
    dialog.querySelector("#entry-editor-key").textContent = `${t(`platform.${entry.channel}`)} · ${day(entry.date)}${entry.edited ? ` · ${t("calendar.edited")}` : ""}`;
    problem.replaceChildren();
    dialog.returnValue = "";
    state.editorSnapshot = snapshot();
    dialog.showModal();
    fields.title.focus();
  };
  return dialog;
}

function removeEntry(state, key) {
  state.entries.delete(key);
  state.els.grid.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
}

/** Opens the editor; an entry only streamed so far gets its saved id first. */
async function openEditor(state, key) {
  let entry = state.entries.get(key);
  if (!entry.id) {
    try {
      const detail = await api("GET", `/v1/calendars/${state.id}`);
      for (const saved of detail.entries) {
        const mine = state.entries.get(saved.key);
        if (mine) state.entries.set(saved.key, { ...mine, ...saved });
      }
      entry = state.entries.get(key);
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
        upsert(state, event.data);
        progress.value = state.entries.size;
        status.textContent = t("calendar.generatingCount", { done: state.entries.size, count: progress.max });
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
  const kept = state.entries.size;
  const message = {
    succeeded: run.regenerate ? t("calendar.regenerated") : t("calendar.done", { count: kept }),
    cancelled: t("calendar.cancelled", { count: kept }),
    timeout: t("calendar.timeout", { count: kept }),
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
      h("button", { type: "button", class: "link", onclick: () => { sessionStorage.removeItem(runKey(state.id)); fill(diff); } }, t("calendar.dismiss"))),
    h("div", { class: "scroll" }, rows)));
}
