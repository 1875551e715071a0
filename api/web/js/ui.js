// Small DOM helpers: element building, labelled fields, the toast, dates.

import { formatDay, formatZoned, t, has } from "./i18n.js";
import { channelLabel, colored } from "./platforms.js";

/** `h("button", {onclick, class: "x"}, "text", child)`: an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style") {
      // Through the CSSOM: the page's policy refuses inline style attributes.
      for (const [property, setting] of Object.entries(value)) el.style.setProperty(property, setting);
    } else if (key === "value" || key === "checked" || key === "disabled") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A labelled input: the label wraps the control (and any hint after it), so every input
 * has its name. */
export function field(label, control, ...after) {
  return h("label", {}, label, control, ...after);
}

/**
 * A value shown this once (a secret, a private address): read-only and selected, with
 * Copy (`copied`: what the toast says once it is copied).
 */
export function copyRow({ label, value, id, copyId, copied }) {
  const input = h("input", { readonly: true, value, id, class: "secret-value", spellcheck: "false" });
  const copy = h("button", {
    type: "button", class: "secondary", id: copyId,
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
        toast(copied);
      } catch {
        toast(t("common.copyByHand"));
      }
    },
  }, t("common.copy"));
  queueMicrotask(() => { input.focus(); input.select(); });
  return h("div", { class: "row secret-row" }, field(label, input), copy);
}

/** A labelled checkbox. */
export function check(label, attrs = {}) {
  const box = h("input", { type: "checkbox", ...attrs });
  return h("label", { class: "check" }, box, label);
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let toastTimer;
/** A short message at the bottom of the page, read by screen readers. */
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.textContent = ""; }, 4000);
}

/** `2027-03-01` -> `Mon, 1 Mar 2027` in the app's language (a calendar day: no zone). */
export function day(iso) {
  return formatDay(iso);
}

/** A timestamp in the reader's time zone, which it names, and the app's language. */
export function when(iso) {
  return formatZoned(iso);
}

/** Today, `days` ahead, as `YYYY-MM-DD`. */
export function isoDay(days = 0) {
  return new Date(Date.now() + days * 86400e3).toISOString().slice(0, 10);
}

/** The monday of this week, `weeks` ahead. */
export function monday(weeks = 0) {
  const now = new Date();
  const back = (now.getUTCDay() + 6) % 7;
  return new Date(Date.now() + (weeks * 7 - back) * 86400e3).toISOString().slice(0, 10);
}

/**
 * The sentence a person reads for a refusal: the app's words for its code (and, for a
 * field the app knows, that field's rule), never the API's own text, a code or a path.
 */
export function explain(error) {
  if (error instanceof TypeError) return t("errors.network");
  const field = error?.details?.field;
  // Seed 003 lists every problem of a request: each field's sentence, once.
  const problems = error?.details?.problems;
  if (error?.code === "VALIDATION_FAILED" && Array.isArray(problems) && problems.length) {
    return [...new Set(problems.map((p) => fieldSentence(p.field, p)))].join(" ");
  }
  if (error?.code === "VALIDATION_FAILED" && field) return fieldSentence(field, error.details);
  const channel = error?.details?.channel;
  const params = { ...(error?.details ?? {}), platform: channel ? channelLabel(channel) : t("channels.thePlatform") };
  if (error?.code && has(`errors.code.${error.code}`)) return t(`errors.code.${error.code}`, params);
  if (!error?.code && error?.message) return error.message; // the app's own words (explain(new Error(t(...))))
  return t("errors.code.other");
}

/** A refusal `{code, message, details?}` concerning `channel`'s platform: the app's
 * sentence for its code, else (a code the app has no words for, such as a platform's own)
 * the words it came with. */
export function refusal(error, channel) {
  if (!has(`errors.code.${error.code}`) && error.message) return error.message;
  return explain({ ...error, details: { ...(error.details ?? {}), channel } });
}

/** The app's sentence for a refused field (its rule), or the general one. */
function fieldSentence(field, details) {
  const key = `errors.field.${fieldKey(String(field))}`;
  return has(key) ? t(key, { ...details }) : t("errors.field.other");
}

/** `sources[2].value` -> `sources.value`: one sentence for every item of a list. */
function fieldKey(field) {
  return field.replace(/\[\d+\]/g, "");
}

/** Removes the sentences `showProblem` put in `root`. */
export function clearProblems(root) {
  for (const el of root.querySelectorAll(".field-error[data-problem]")) el.remove();
  for (const el of root.querySelectorAll("[aria-invalid=true][data-problem-field]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("data-problem-field");
  }
}

/** A sentence right after `control` (in its label), tied to it for screen readers. */
export function fieldError(control, message) {
  const holder = control.closest("label, fieldset") ?? control.parentElement;
  holder.querySelector(":scope > .field-error[data-problem]")?.remove();
  const id = `problem-${Math.random().toString(36).slice(2)}`;
  const sentence = h("span", { class: "field-error", role: "alert", id, dataset: { problem: "" } }, message);
  holder.append(sentence);
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("data-problem-field", "");
  control.setAttribute("aria-describedby", id);
  return sentence;
}

/**
 * Shows a refusal in one place: next to the field it is about (`fields` maps the API's
 * field names, list indexes dropped, to controls), else in `problem`, else as a toast.
 */
export function showProblem(error, { problem, fields = {}, root } = {}) {
  if (root) clearProblems(root);
  const field = error?.details?.field ?? error?.details?.problems?.[0]?.field;
  const control = field ? fields[field] ?? fields[fieldKey(field)] ?? fields[field.split(".")[0]] : null;
  const message = explain(error);
  if (control) return fieldError(control, message);
  if (problem) return fill(problem, h("p", { class: "notice bad", role: "alert" }, message));
  return toast(message);
}

/** Shows an error in one place: in `where` when given, else as a toast. */
export function showError(error, where) {
  return showProblem(error, { problem: where });
}

/** Splits `a, b  c` into `["a", "b", "c"]`. */
export function words(text) {
  return text.split(/[\s,]+/).map((w) => w.trim()).filter(Boolean);
}

/**
 * A time zone picker: every zone the browser knows, the reader's own first and chosen
 * unless `value` names another.
 */
export function timeZonePicker(name, value) {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [own];
  const chosen = value || own;
  const all = [...new Set([own, chosen, "UTC", ...zones])];
  return h("select", { name }, all.map((zone) => h("option", { value: zone, selected: zone === chosen },
    zone === own ? t("common.yourZone", { zone: zone.replaceAll("_", " ") }) : zone.replaceAll("_", " "))));
}

/**
 * Asks before something is destroyed: a modal saying what will go, with the destructive
 * button named for what it does and "Keep" focused. Resolves true to go ahead.
 */
export function confirmAction({ title, body, confirm }) {
  return new Promise((resolve) => {
    const id = `confirm-${Math.random().toString(36).slice(2)}`;
    const keep = h("button", { value: "no", class: "secondary", id: "confirm-no" }, t("common.keep"));
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": id },
      h("form", { method: "dialog", class: "stack" },
        h("h2", { id }, title), body ? h("p", {}, body) : null,
        h("div", { class: "row" }, h("button", { value: "yes", class: "danger", id: "confirm-yes" }, confirm), keep)));
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    dialog.showModal();
    keep.focus();
  });
}

/**
 * Keeps a dialog's unsaved changes from being lost: Esc, a click on `closeButton`, or the
 * browser's Back asks first when `dirty()` says something changed. While the dialog is
 * open it holds an entry of the browser's history, so Back closes the dialog (or asks)
 * instead of leaving the page under it.
 */
export function guardUnsaved(dialog, dirty, closeButton) {
  const ask = async () => {
    if (!dirty()) return dialog.close("cancel");
    const discard = await confirmAction({ title: t("confirm.discard"), body: t("confirm.discardBody"), confirm: t("confirm.discardYes") });
    if (discard) dialog.close("cancel");
    return discard;
  };
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    ask();
  });
  closeButton?.addEventListener("click", (event) => {
    event.preventDefault();
    ask();
  });
  const entry = { dialog, ask, armed: false };
  new MutationObserver(() => {
    if (dialog.open && !entry.armed) {
      history.pushState({ almanacDialog: true }, "");
      entry.armed = true;
      guarded.add(entry);
    } else if (!dialog.open && entry.armed) {
      // Closed by the page: give back the history entry it held.
      entry.armed = false;
      guarded.delete(entry);
      ignoredPops += 1;
      history.back();
    }
  }).observe(dialog, { attributes: true, attributeFilter: ["open"] });
}

/** The open guarded dialogs, and the Back presses the page made itself (to ignore). */
const guarded = new Set();
let ignoredPops = 0;

window.addEventListener("popstate", async () => {
  if (ignoredPops > 0) {
    ignoredPops -= 1;
    return;
  }
  const entry = [...guarded].at(-1);
  if (!entry) return;
  // Back took the dialog's history entry: the dialog answers it, the page stays.
  entry.armed = false;
  guarded.delete(entry);
  if (!entry.dialog.isConnected || !entry.dialog.open) return;
  history.pushState({ almanacDialog: true }, "");
  entry.armed = true;
  guarded.add(entry);
  await entry.ask();
});

/**
 * Whether the page may be left: asks when `dirty()` says something typed here is not saved
 * yet. Resolves true to leave.
 */
export async function mayLeave(dirty) {
  if (!dirty?.()) return true;
  return confirmAction({ title: t("confirm.leave"), body: t("confirm.leaveBody"), confirm: t("confirm.leaveYes") });
}

/** `text` with its hashtags marked, as a post shows them (text nodes, never markup). */
export function marked(text) {
  return text.split(/(#[\p{L}\p{N}_]+)/u).map((part) => (part.startsWith("#") ? h("span", { class: "tag" }, part) : part));
}

/** A platform's name with its mark: its initial on its colour (`Instagram` with an `I`). */
export function platformBadge(platform) {
  const label = channelLabel(platform);
  return h("span", colored(platform, { class: "badge platform" }),
    h("span", { class: "mark", "aria-hidden": "true" }, [...label][0]?.toUpperCase() ?? "?"),
    label);
}

/** What a progress event says, in the app's words for its stage (or step), with counts. */
export function progressText(event) {
  const stage = event.stage ?? event.step;
  if (stage && has(`progress.${stage}`)) return t(`progress.${stage}`, { completed: event.completed ?? 0, total: event.total ?? 0 });
  return event.message ?? "";
}
