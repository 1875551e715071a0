// Themes (seed 004): sources, "synthesise now" with its progress, the schedule editor (enable,
// days, time in UTC, up to three emails checked on blur, saved on every change) and the
// deliveries.

import { api, follow, download } from "./api.js";
import { h, field, fill, toast, when, showError } from "./ui.js";

const DAYS = [["mon", "M", "Monday"], ["tue", "T", "Tuesday"], ["wed", "W", "Wednesday"], ["thu", "T", "Thursday"],
  ["fri", "F", "Friday"], ["sat", "S", "Saturday"], ["sun", "S", "Sunday"]];
const SOURCE_TYPES = ["rss", "url", "text"];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
let source = null;

export function leave() {
  source?.close();
  source = null;
}

export async function show(view, [id]) {
  const themes = await api("GET", "/api/v1/themes");
  const list = h("div", { class: "panel" }, h("h2", {}, "Your themes"),
    h("ul", { class: "list", id: "themes" }, themes.map((t) => h("li", {},
      h("a", { href: `#/themes/${t.id}`, "aria-current": t.id === id ? "page" : null }, t.name)))),
    newTheme());
  const main = h("div", { class: "stack", id: "theme" });
  fill(view, h("h1", {}, "Themes"), h("div", { class: "split" }, list, main));
  const theme = themes.find((t) => t.id === id);
  if (theme) await renderTheme(main, theme);
  else main.append(h("p", { class: "panel muted" }, "Choose or create a theme."));
}

function sourcesEditor(initial) {
  const sources = [...initial];
  const list = h("ul", { class: "list" });
  const render = () => fill(list, sources.map((s, i) => h("li", {}, h("span", { class: "badge" }, s.type), " ", s.value, " ",
    h("button", { type: "button", class: "link", "aria-label": `Remove source ${i + 1}`, onclick: () => { sources.splice(i, 1); render(); } }, "Remove"))));
  const type = h("select", { name: "sourceType" }, SOURCE_TYPES.map((t) => h("option", { value: t }, t)));
  const value = h("input", { name: "sourceValue" });
  const add = h("button", {
    type: "button", class: "secondary",
    onclick: () => { if (value.value.trim()) { sources.push({ type: type.value, value: value.value.trim() }); value.value = ""; render(); } },
  }, "Add source");
  render();
  return { sources, el: h("div", { class: "stack" }, list, h("div", { class: "row" }, field("Source type", type), field("Feed URL, page URL or text", value), add)) };
}

function newTheme() {
  const name = h("input", { name: "name", required: true });
  const description = h("input", { name: "description" });
  const editor = sourcesEditor([]);
  const problem = h("div");
  const form = h("form", { class: "stack", id: "theme-form" }, h("h3", {}, "New theme"),
    field("Name", name), field("Description", description), editor.el, h("button", {}, "Create theme"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const theme = await api("POST", "/api/v1/themes", {
        name: name.value, description: description.value || undefined, sources: editor.sources,
      });
      location.hash = `#/themes/${theme.id}`;
    } catch (error) { showError(error, problem); }
  });
  return form;
}

async function renderTheme(main, theme) {
  const editor = sourcesEditor(theme.sources);
  const saveSources = h("button", {
    type: "button", class: "secondary",
    onclick: async () => {
      try { await api("PATCH", `/api/v1/themes/${theme.id}`, { sources: editor.sources }); toast("Sources saved"); } catch (e) { showError(e); }
    },
  }, "Save sources");
  const progress = h("progress", { id: "synthesis-progress", max: 100, value: 0, hidden: true, "aria-label": "Synthesis progress" });
  const status = h("p", { id: "synthesis-status", role: "status", "aria-live": "polite" });
  const syntheses = h("div", { id: "syntheses" });
  const deliveries = h("div", { id: "deliveries" });
  const now = h("button", { type: "button", id: "synthesise" }, "Synthesise now");
  now.addEventListener("click", async () => {
    now.disabled = true;
    try {
      const accepted = await api("POST", `/api/v1/themes/${theme.id}/syntheses`);
      progress.hidden = false;
      leave();
      source = follow(accepted.job_id, {
        on: {
          progress: (e) => { if (e.percent !== undefined) progress.value = e.percent; status.textContent = e.message ?? status.textContent; },
          done: async (e) => {
            progress.hidden = true;
            now.disabled = false;
            status.textContent = e.status === "succeeded" ? "Synthesis ready." : `The synthesis ${e.status}: ${e.error?.message ?? ""}`;
            await renderSyntheses(syntheses, theme.id);
          },
        },
      });
    } catch (error) { now.disabled = false; showError(error, status); }
  });
  const remove = h("button", {
    type: "button", class: "danger",
    onclick: async () => { try { await api("DELETE", `/api/v1/themes/${theme.id}`); location.hash = "#/themes"; } catch (e) { showError(e); } },
  }, "Delete theme");
  fill(main,
    h("section", { class: "panel stack" }, h("h2", {}, theme.name), theme.description ? h("p", {}, theme.description) : null,
      h("h3", {}, "Sources"), editor.el, h("div", { class: "row" }, saveSources, remove)),
    h("section", { class: "panel stack" }, h("h3", {}, "Synthesis"), now, progress, status, syntheses),
    await scheduleEditor(theme.id),
    h("section", { class: "panel stack" }, h("h3", {}, "Deliveries"), deliveries));
  await Promise.all([renderSyntheses(syntheses, theme.id), renderDeliveries(deliveries, theme.id)]);
}

async function renderSyntheses(el, themeId) {
  const items = await api("GET", `/api/v1/themes/${themeId}/syntheses`);
  fill(el, items.length ? h("ul", { class: "list" }, items.map((s) => h("li", {},
    h("span", { class: `badge ${s.status === "succeeded" ? "ok" : s.status === "failed" ? "bad" : ""}` }, s.status), " ",
    s.title ?? "(untitled)", h("span", { class: "muted" }, ` · ${when(s.created_at)}`),
    (s.sections ?? []).length ? h("ul", {}, s.sections.map((section) => h("li", {}, h("strong", {}, section.title ?? ""), " ", section.summary ?? section.body ?? ""))) : null)))
    : h("p", { class: "muted" }, "No synthesis yet."));
}

async function renderDeliveries(el, themeId) {
  const items = await api("GET", `/api/v1/themes/${themeId}/deliveries`);
  fill(el, items.length ? h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "To"), h("th", {}, "Status"), h("th", {}, "Sent"), h("th", {}, h("span", { class: "muted" }, "Email")))),
    h("tbody", {}, items.map((d) => h("tr", {}, h("td", {}, d.recipient), h("td", {}, d.status, d.last_error ? ` (${d.last_error.message ?? ""})` : ""), h("td", {}, when(d.sent_at)),
      h("td", {}, d.email_url ? h("button", {
        type: "button", class: "link open-email", "aria-label": `Open the email to ${d.recipient}`,
        onclick: () => download(d.email_url, `digest-${d.recipient}.eml`).catch((e) => showError(e)),
      }, "Open") : null))))))
    : h("p", { class: "muted" }, "No email sent yet."));
}

/** Seed 004's schedule editor: every valid change is saved at once. */
async function scheduleEditor(themeId) {
  const saved = await api("GET", `/api/v1/themes/${themeId}/schedule`).catch(() => null);
  const state = saved ?? { enabled: false, days: [], time_utc: "08:00", emails: [] };
  const status = h("p", { id: "schedule-status", role: "status", "aria-live": "polite" },
    saved?.last_run_at ? `Last run ${when(saved.last_run_at)}` : "");
  const enabled = h("input", { type: "checkbox", id: "schedule-enabled", checked: state.enabled });
  const days = DAYS.map(([code, letter, name]) => h("button", {
    type: "button", class: "day-button", "aria-label": name, "aria-pressed": String(state.days.includes(code)), dataset: { day: code },
    onclick: (e) => {
      const on = e.currentTarget.getAttribute("aria-pressed") !== "true";
      e.currentTarget.setAttribute("aria-pressed", String(on));
      save();
    },
  }, letter));
  const time = h("input", { type: "time", id: "schedule-time", value: state.time_utc, required: true });
  const emails = h("div", { class: "stack", id: "schedule-emails" });
  const addEmail = h("button", { type: "button", class: "secondary", id: "add-email" }, "Add an address");
  const emailRow = (value = "") => {
    const input = h("input", { type: "email", value, "aria-label": "Recipient email", autocomplete: "email" });
    const error = h("span", { class: "field-error", role: "alert" });
    input.addEventListener("blur", () => {
      const ok = !input.value.trim() || EMAIL.test(input.value.trim());
      input.classList.toggle("invalid", !ok);
      input.setAttribute("aria-invalid", String(!ok));
      error.textContent = ok ? "" : "Not a valid email address: not saved.";
      if (ok) save();
    });
    const row = h("div", { class: "row email-row" }, input,
      h("button", { type: "button", class: "link", "aria-label": "Remove this address", onclick: () => { row.remove(); syncAdd(); save(); } }, "Remove"),
      error);
    return row;
  };
  const syncAdd = () => {
    const n = emails.querySelectorAll("input").length;
    addEmail.disabled = n >= 3;
    addEmail.title = n >= 3 ? "3 addresses at most" : "";
  };
  for (const email of state.emails) emails.append(emailRow(email));
  addEmail.addEventListener("click", () => { emails.append(emailRow()); syncAdd(); emails.querySelector("input:last-of-type")?.focus(); });
  syncAdd();
  const remove = h("button", {
    type: "button", class: "link",
    onclick: async () => { try { await api("DELETE", `/api/v1/themes/${themeId}/schedule`); status.textContent = "Schedule deleted"; } catch (e) { showError(e); } },
  }, "Delete the schedule");

  async function save() {
    const addresses = [...emails.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
    if (addresses.some((a) => !EMAIL.test(a))) return;
    const body = {
      enabled: enabled.checked,
      days: days.filter((b) => b.getAttribute("aria-pressed") === "true").map((b) => b.dataset.day),
      time_utc: time.value.slice(0, 5),
      emails: addresses,
    };
    try {
      await api("PUT", `/api/v1/themes/${themeId}/schedule`, body);
      status.textContent = "Schedule saved";
      status.dataset.saved = JSON.stringify(body);
    } catch (error) {
      status.textContent = error.message;
      status.dataset.saved = "";
    }
  }
  enabled.addEventListener("change", save);
  time.addEventListener("change", save);
  return h("section", { class: "panel stack", id: "schedule" }, h("h3", {}, "Schedule"),
    h("label", { class: "check" }, enabled, "Email a synthesis on schedule"),
    h("div", { class: "row", role: "group", "aria-label": "Days" }, days),
    field("Time (UTC)", time),
    h("div", {}, h("span", { class: "muted" }, "Recipients (3 at most)"), emails, addEmail),
    status, remove);
}
