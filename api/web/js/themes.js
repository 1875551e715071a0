// Themes (seed 004): sources, "synthesise now" with its progress, the schedule editor (enable,
// days, a time in the reader's zone or in UTC, up to three emails checked on blur, saved on
// every change, the next digest in the reader's time) and the deliveries.

import { api, follow, download } from "./api.js";
import { h, field, fill, toast, when, showError, showProblem, fieldError, clearProblems, explain, confirmAction, progressText, timeZonePicker } from "./ui.js";
import { t, formatDay, formatMoment } from "./i18n.js";

// Seed 004's day codes, each with its letter's and its name's catalog keys.
const DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];
const SOURCE_TYPES = ["rss", "url", "text"];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
let source = null;
// Whether the schedule editor holds a change the server has not taken.
let scheduleUnsaved = () => false;

export function leave() {
  source?.close();
  source = null;
  scheduleUnsaved = () => false;
}

/** Whether leaving now would lose something typed here. */
export function unsaved() {
  return scheduleUnsaved();
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

function sourcesEditor(initial) {
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

function newTheme() {
  const name = h("input", { name: "name", required: true });
  const description = h("input", { name: "description" });
  const editor = sourcesEditor([]);
  const problem = h("div");
  const form = h("form", { class: "stack", id: "theme-form" }, h("h3", {}, t("themes.new")),
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
    type: "button", class: "secondary",
    onclick: async () => {
      if (!editor.addTyped()) return;
      try {
        await api("PATCH", `/api/v1/themes/${theme.id}`, { sources: editor.sources });
        toast(t("themes.sourcesSaved"));
      } catch (e) { showProblem(e, { root: editor.el, fields: { sources: editor.value } }); }
    },
  }, t("themes.saveSources"));
  const progress = h("progress", { id: "synthesis-progress", max: 100, value: 0, hidden: true, "aria-label": t("themes.synthesisProgress") });
  const status = h("p", { id: "synthesis-status", role: "status", "aria-live": "polite" });
  const syntheses = h("div", { id: "syntheses" });
  const deliveries = h("div", { id: "deliveries" });
  const now = h("button", { type: "button", id: "synthesise" }, t("themes.synthesise"));
  now.addEventListener("click", async () => {
    now.disabled = true;
    try {
      const accepted = await api("POST", `/api/v1/themes/${theme.id}/syntheses`);
      progress.hidden = false;
      leave();
      source = follow(accepted.job_id, {
        on: {
          progress: (e) => { if (e.percent !== undefined) progress.value = e.percent; status.textContent = progressText(e) || status.textContent; },
          done: async (e) => {
            progress.hidden = true;
            now.disabled = false;
            status.textContent = e.status === "succeeded" ? t("themes.synthesisReady") : t("themes.synthesisEnded", { status: t(`status.${e.status}`), reason: e.error?.message ?? "" });
            await renderSyntheses(syntheses, theme.id);
          },
        },
      });
    } catch (error) { now.disabled = false; showError(error, status); }
  });
  const remove = h("button", {
    type: "button", class: "danger",
    onclick: async () => {
      const sure = await confirmAction({ title: t("confirm.deleteTheme", { name: theme.name }), body: t("confirm.deleteThemeBody"), confirm: t("themes.delete") });
      if (!sure) return;
      try { await api("DELETE", `/api/v1/themes/${theme.id}`); location.hash = "#/themes"; } catch (e) { showError(e); }
    },
  }, t("themes.delete"));
  fill(main,
    h("section", { class: "panel stack" }, h("h2", {}, theme.name), theme.description ? h("p", {}, theme.description) : null,
      h("h3", {}, t("themes.sources")), editor.el, h("div", { class: "row" }, saveSources, remove)),
    h("section", { class: "panel stack" }, h("h3", {}, t("themes.synthesis")), now, progress, status, syntheses),
    await scheduleEditor(theme.id),
    h("section", { class: "panel stack" }, h("h3", {}, t("themes.deliveries")), deliveries));
  await Promise.all([renderSyntheses(syntheses, theme.id), renderDeliveries(deliveries, theme.id)]);
}

async function renderSyntheses(el, themeId) {
  const items = await api("GET", `/api/v1/themes/${themeId}/syntheses`);
  fill(el, items.length ? h("ul", { class: "list" }, items.map((s) => h("li", {},
    h("span", { class: `badge ${s.status === "succeeded" ? "ok" : s.status === "failed" ? "bad" : ""}` }, t(`status.${s.status}`)), " ",
    s.title ?? t("themes.untitled"), h("span", { class: "muted" }, ` · ${when(s.created_at)}`),
    s.items_left_out ? h("span", { class: "muted" }, ` · ${t("themes.leftOut", { n: s.items_left_out })}`) : null,
    (s.sections ?? []).length ? h("ul", {}, s.sections.map((section) => h("li", {}, h("strong", {}, section.title ?? ""), " ", section.summary ?? section.body ?? ""))) : null)))
    : h("p", { class: "muted" }, t("themes.noSynthesis")));
}

async function renderDeliveries(el, themeId) {
  const items = await api("GET", `/api/v1/themes/${themeId}/deliveries`);
  fill(el, items.length ? h("div", { class: "table-wrap" }, h("table", { class: "deliveries" },
    h("thead", {}, h("tr", {}, h("th", {}, t("themes.to")), h("th", {}, t("themes.status")), h("th", {}, t("themes.sent")), h("th", {}, h("span", { class: "muted" }, t("themes.email"))))),
    h("tbody", {}, items.map((d) => h("tr", {}, h("td", {}, d.recipient), h("td", {}, t(`status.${d.status}`), d.reason ? ` (${t(`themes.reason.${d.reason}`)})` : "", d.last_error ? ` (${d.last_error.message ?? ""})` : ""), h("td", {}, when(d.sent_at)),
      h("td", {}, d.email_url ? h("button", {
        type: "button", class: "link open-email", "aria-label": t("themes.openEmail", { to: d.recipient }),
        onclick: () => download(d.email_url, `digest-${d.recipient}.eml`).catch((e) => showError(e)),
      }, t("themes.open")) : null))))))
    : h("p", { class: "muted" }, t("themes.noEmail")));
}

/** Addresses that unsubscribed with their digest's link, kept off until the owner allows
 * one again; `update(list)` shows the server's list. */
function suppressionsView(themeId) {
  const el = h("div", { class: "stack", id: "schedule-suppressions" });
  const update = (list) => fill(el, ...(list ?? []).map((s) => {
    const row = h("p", { class: "row suppression" },
      h("span", {}, t("schedule.unsubscribed", { email: s.email, when: when(s.since) })),
      h("button", {
        type: "button", class: "link", "aria-label": t("schedule.allowAgainAria", { email: s.email }),
        onclick: async () => {
          try {
            await api("DELETE", `/api/v1/themes/${themeId}/schedule/suppressions/${encodeURIComponent(s.email)}`);
            row.remove();
            toast(t("schedule.allowedAgain", { email: s.email }));
          } catch (e) { showError(e); }
        },
      }, t("schedule.allowAgain")));
    return row;
  }));
  return { el, update };
}

/** The digest's recipients (three at most), each checked when the person leaves it;
 * `save()` after each valid change. */
function recipientsView(initial, save) {
  const emails = h("div", { class: "stack", id: "schedule-emails" });
  const addEmail = h("button", { type: "button", class: "secondary", id: "add-email" }, t("schedule.addEmail"));
  const emailRow = (value = "") => {
    const input = h("input", { type: "email", value, "aria-label": t("schedule.recipient"), autocomplete: "email" });
    const error = h("span", { class: "field-error", role: "alert" });
    input.addEventListener("blur", () => {
      const ok = !input.value.trim() || EMAIL.test(input.value.trim());
      input.classList.toggle("invalid", !ok);
      input.setAttribute("aria-invalid", String(!ok));
      error.textContent = ok ? "" : t("schedule.invalidEmail");
      if (ok) save();
    });
    const row = h("div", { class: "row email-row" }, input,
      h("button", { type: "button", class: "link", "aria-label": t("schedule.removeEmail"), onclick: () => { row.remove(); syncAdd(); save(); } }, t("common.remove")),
      error);
    return row;
  };
  const syncAdd = () => {
    const n = emails.querySelectorAll("input").length;
    addEmail.disabled = n >= 3;
    addEmail.title = n >= 3 ? t("schedule.maxEmails") : "";
  };
  for (const email of initial) emails.append(emailRow(email));
  addEmail.addEventListener("click", () => { emails.append(emailRow()); syncAdd(); emails.querySelector("input:last-of-type")?.focus(); });
  syncAdd();
  return { emails, addEmail };
}

/**
 * Seed 004's schedule editor: every valid change is saved at once. A schedule keeps the
 * reader's time zone (its days and time are theirs, across clock changes), or UTC as seed
 * 004 has it.
 */
async function scheduleEditor(themeId) {
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
