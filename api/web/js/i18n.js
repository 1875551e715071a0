// The app's words in French and English: every string a person reads comes from the
// catalogs in `/app/i18n/` (`en.json`, `fr.json`), keyed as seed 004 keys its labels
// (`schedule.title`, ...). The language follows the browser until the person picks one
// (remembered); dates, times and numbers are formatted for it.

const LANGUAGES = { en: "English", fr: "Français" };
const CHOSEN_KEY = "almanac.lang";
let language = "en";
// How dates and numbers are written: the browser's own tag when it is of this language
// (`en-GB` writes `Mon 7 Jan`), else the language.
let locale = "en";
let catalog = {};
let fallback = {};

/** The language in use (`en` or `fr`). */
export function lang() {
  return language;
}

/** The languages offered, `[code, name]`. */
export function languages() {
  return Object.entries(LANGUAGES);
}

/** The browser's language tags, most wanted first. */
const browserTags = () => navigator.languages ?? [navigator.language];

/** A tag's language (`fr-FR` -> `fr`). */
const base = (tag) => String(tag).toLowerCase().split("-")[0];

/** The language to use: the remembered choice, else the browser's first one we speak. */
function pick() {
  const chosen = localStorage.getItem(CHOSEN_KEY);
  if (chosen && chosen in LANGUAGES) return chosen;
  return browserTags().map(base).find((code) => code in LANGUAGES) ?? "en";
}

async function load(code) {
  const response = await fetch(`/app/i18n/${code}.json`);
  if (!response.ok) throw new Error(`the ${code} catalog did not load (${response.status})`);
  return response.json();
}

/** Loads the catalog of the language to use; call once before anything is shown. */
export async function start() {
  language = pick();
  locale = browserTags().find((tag) => base(tag) === language) ?? language;
  fallback = await load("en");
  catalog = language === "en" ? fallback : await load(language).catch(() => fallback);
  document.documentElement.lang = language;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

/** Remembers `code` as the person's choice and shows the app in it. */
export function choose(code) {
  localStorage.setItem(CHOSEN_KEY, code);
  location.reload();
}

/** Whether a catalog has `key`. */
export function has(key) {
  return key in catalog || key in fallback;
}

/**
 * The text of `key`, its `{name}` placeholders filled from `params`. A value that is an
 * object of plural forms (`{one, other}`) is chosen by `params.count`.
 */
export function t(key, params = {}) {
  let value = catalog[key] ?? fallback[key];
  if (value === undefined) {
    // A value the catalogs do not know (a platform added since): shown as it is.
    console.warn(`no text for ${key}`);
    return key.slice(key.lastIndexOf(".") + 1);
  }
  if (typeof value === "object") {
    const form = new Intl.PluralRules(locale).select(Number(params.count ?? 0));
    value = value[form] ?? value.other;
  }
  return value.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const given = params[name];
    return typeof given === "number" ? number(given) : String(given);
  });
}

/** Items as this language lists them (`TikTok, Instagram and LinkedIn`). */
export function list(items) {
  return new Intl.ListFormat(locale, { style: "long", type: "conjunction" }).format(items);
}

/** A number for this language. */
export function number(n) {
  return new Intl.NumberFormat(locale).format(n);
}

/** `2027-03-01` as a calendar day in this language (`lun. 1 mars 2027`). */
export function formatDay(iso, options = { weekday: "short", day: "numeric", month: "short", year: "numeric" }) {
  return new Date(`${iso}T00:00:00Z`).toLocaleDateString(locale, { ...options, timeZone: "UTC" });
}

// The time zone the person chose on their account, if any (else the browser's).
let chosenZone = null;

/** Shows times in `zone` from now on (the account's `displayTimezone`; null: the browser's). */
export function useZone(zone) {
  chosenZone = zone || null;
}

/** The reader's time zone: the one on their account, else the browser's (`Europe/Paris`). */
export function readerZone() {
  return chosenZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC";
}

/**
 * An instant with the zone it is written in named (`26 Nov 2026, 09:00 (Europe/Paris)`):
 * one zone per person, everywhere a time is shown: the one on their account, else `zone`
 * when given (the calendar's), else the browser's.
 */
export function formatZoned(iso, zone) {
  if (!iso) return "";
  const shown = chosenZone ?? zone ?? readerZone();
  const when = new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short", timeZone: shown });
  return `${when} (${shown})`;
}

/** An amount in US dollars, to the cent, or finer when it is under one. */
/** A rate as a percentage (`4.2 %`), or a dash without one. */
export function percent(rate) {
  if (rate === null || rate === undefined) return "–";
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }).format(rate);
}

export function dollars(usd) {
  const digits = usd > 0 && usd < 1 ? 4 : 2;
  return new Intl.NumberFormat(locale, { style: "currency", currency: "USD", currencyDisplay: "narrowSymbol", minimumFractionDigits: 2, maximumFractionDigits: digits }).format(usd);
}

/** An instant in the reader's time zone with its weekday (`Monday 30 November, 08:00`). */
export function formatMoment(iso) {
  return new Date(iso).toLocaleString(locale, { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", timeZone: readerZone() });
}

/** `HH:MM` as this language writes a time of day (`9:00 AM`, `09:00`). */
export function formatTime(hhmm) {
  const [hours, minutes] = hhmm.split(":").map(Number);
  return new Date(Date.UTC(2000, 0, 1, hours, minutes))
    .toLocaleTimeString(locale, { hour: "numeric", minute: "2-digit", timeZone: "UTC" });
}
