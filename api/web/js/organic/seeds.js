// The week's seeds: a trend on a day, at a time, on a platform (an account and a format if
// chosen), listed with Remove. `changed()` is told after each change.

import { h, field, toast, day } from "../ui.js";
import { channelLabel, organicPlatforms } from "../platforms.js";
import { t, formatTime } from "../i18n.js";
import { select, timeLabel, zonedToUtc } from "./common.js";

// Seed 003's formats a seed may ask for.
const FORMATS = ["reel", "carousel", "story", "post", "newsletter"];

/** The seed form and list; `add(seed, time)` puts a seed in both (a restored one too). */
export function seedsView(board, changed) {
  const { state, brand, accounts, days, seeds } = board;
  const platformOptions = organicPlatforms().map((p) => [p, channelLabel(p)]);
  const list = h("ul", { class: "list", id: "seeds" });
  const seedFields = {
    trend: select("trend", state.trends.map((trend) => [trend.id, trend.title]), state.trends[0]?.id),
    day: select("day", days.map((d) => [d, day(d)]), days[0]),
    time: h("input", { type: "time", name: "time", value: "09:00", required: true }),
    platform: select("platform", platformOptions, organicPlatforms()[0]),
    account: select("account", [["", t("organic.noAccount")], ...accounts.map((a) => [a.accountId, `${channelLabel(a.platform)} · ${a.accountId}`])], ""),
    format: select("desiredFormat", [["", t("organic.formatAny")], ...FORMATS.map((f) => [f, t(`organic.formats.${f}`)])], ""),
  };
  // Only the chosen platform's accounts are offered.
  const offerAccounts = () => {
    const platform = seedFields.platform.value;
    for (const option of seedFields.account.options) {
      const account = accounts.find((a) => a.accountId === option.value);
      option.hidden = Boolean(account) && account.platform !== platform;
    }
    if (seedFields.account.selectedOptions[0]?.hidden) seedFields.account.value = "";
  };
  seedFields.platform.addEventListener("change", offerAccounts);
  offerAccounts();
  const form = h("form", { class: "row", id: "seed-form", "data-needs": "editor" },
    field(t("organic.trend"), seedFields.trend), field(t("organic.day"), seedFields.day), field(t("organic.seedTime"), seedFields.time),
    field(t("organic.platform"), seedFields.platform), field(t("organic.account"), seedFields.account), field(t("organic.format"), seedFields.format),
    h("button", { type: "submit", id: "add-seed" }, t("organic.addSeed")));
  const add = (seed, time) => {
    // Kept beside the request's fields, for the page's own words about it (not sent).
    Object.defineProperty(seed, "time", { value: time, enumerable: false });
    seeds.push(seed);
    changed();
    const trendTitle = state.trends.find((trend) => trend.id === seed.trendId)?.title ?? seed.trendId;
    list.append(h("li", { dataset: { placement: seed.placementId } }, `${trendTitle}: ${channelLabel(seed.platform)}${seed.accountId ? ` (${seed.accountId})` : ""} · ${day(seed.dayId)} ${formatTime(time)}`,
      " ", h("button", { type: "button", class: "link", onclick: (e) => { seeds.splice(seeds.indexOf(seed), 1); e.target.closest("li").remove(); changed(); } }, t("common.remove"))));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const trendId = seedFields.trend.value;
    if (!trendId) return toast(t("organic.trendFirst"));
    const dayId = seedFields.day.value;
    const time = seedFields.time.value.slice(0, 5);
    let placementId = `seed-${dayId}-${trendId}`;
    for (let n = 2; seeds.some((s) => s.placementId === placementId); n++) placementId = `seed-${dayId}-${trendId}-${n}`;
    const seed = {
      placementId, trendId, dayId,
      scheduledAt: zonedToUtc(dayId, time, brand.timezone).toISOString(),
      timeLabel: timeLabel(time), platform: seedFields.platform.value, seedSource: "trend",
    };
    if (seedFields.account.value) seed.accountId = seedFields.account.value;
    if (seedFields.format.value) seed.desiredFormat = seedFields.format.value;
    add(seed, time);
  });
  return { form, list, add };
}
