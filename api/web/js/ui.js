// Small DOM helpers: element building, labelled fields, the toast, dates.

import { formatDay, formatInstant } from "./i18n.js";

/** `h("button", {onclick, class: "x"}, "text", child)`: an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
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

/** A labelled input: the label wraps the control, so every input has its name. */
export function field(label, control) {
  return h("label", {}, label, control);
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

/** A timestamp in the reader's time zone and the app's language. */
export function when(iso) {
  return formatInstant(iso);
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

/** Shows an error where the user is looking: the toast, and a notice in `where` when given. */
export function showError(error, where) {
  const message = error?.message ?? String(error);
  toast(message);
  if (where) fill(where, h("p", { class: "notice bad", role: "alert" }, message));
}

/** Splits `a, b  c` into `["a", "b", "c"]`. */
export function words(text) {
  return text.split(/[\s,]+/).map((w) => w.trim()).filter(Boolean);
}
