// Organic week (seed 003): the brand library (brands with linked accounts, trends, creative
// assets) and a brand's week, one row per day, whose cards fill from the NDJSON stream and
// open in an edit dialog. The week's seeds and options are a draft kept on the server, so
// a reload or another device finds them as they were left.

import { api, ndjson } from "./api.js";
import { h, field, check, fill, toast, day, monday, explain, showError, showProblem, fieldError, clearProblems, timeZonePicker, confirmAction, guardUnsaved, platformBadge, progressText, words } from "./ui.js";
import { compose, textCounter } from "./limits.js";
import { channelLabel, organicPlatforms } from "./platforms.js";
import { t, has, formatTime, formatDay } from "./i18n.js";

const TREND_KINDS = ["trend", "question", "event"];
const ASSET_KINDS = ["image", "video", "carousel", "document"];
// Seed 003's formats a seed may ask for.
const FORMATS = ["reel", "carousel", "story", "post", "newsletter"];
let abort = null;
// Whether the week's seeds and options hold a change the server has not taken yet.
let draftUnsaved = () => false;

export function leave() {
  abort?.abort();
  abort = null;
  draftUnsaved = () => false;
}

/** Whether leaving now would lose something typed here. */
export function unsaved() {
  return draftUnsaved();
}

const select = (name, options, value) => h("select", { name },
  options.map((o) => (Array.isArray(o) ? o : [o, o])).map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
const opt = (text) => (text.trim() ? text.trim() : undefined);

export async function show(view, [brandId, weekStart]) {
  leave();
  const library = h("div", { class: "stack", id: "library" });
  const board = h("div", { class: "stack", id: "board" });
  fill(view, h("h1", {}, t("organic.title")), h("div", { class: "split" }, library, board));
  const state = { view, brandId, weekStart: weekStart ?? monday(1), library, board };
  await renderLibrary(state);
  if (brandId) await renderBoard(state);
  else fill(board, h("p", { class: "panel muted" }, t("organic.chooseBrand")));
}

async function renderLibrary(state) {
  const [brands, trends, assets] = await Promise.all([
    api("GET", "/api/organic/brands"), api("GET", "/api/organic/trends"), api("GET", "/api/organic/assets"),
  ]);
  state.brands = brands;
  state.trends = trends;
  state.assets = assets;
  fill(state.library, brandsPanel(state), trendsPanel(state), assetsPanel(state));
}

const refresh = (state) => show(state.view, [state.brandId, state.weekStart].filter(Boolean));

/** A list with an add form; `edit(item)` gives the fields to change, `remove(item)` deletes. */
function crud({ id, title, explain, adding, items, label, add, fields, save, edit, remove, removing, extra }) {
  const problem = h("div");
  const inputs = fields();
  const form = h("form", { class: "stack", id: `${id}-form` },
    h("h3", {}, adding),
    Object.entries(inputs).map(([name, control]) => field(t(`organic.field.${name}`), control)),
    h("button", { type: "submit" }, t("organic.add")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await add(inputs);
    } catch (error) {
      showProblem(error, { root: form, problem, fields: inputs });
    }
  });
  return h("section", { class: "panel", id }, h("h2", {}, title),
    explain ? h("p", { class: "hint explain" }, explain) : null,
    h("ul", { class: "list" }, items.map((item) => h("li", { dataset: { id: item.id } },
      label(item),
      h("div", { class: "row" },
        edit ? h("button", { type: "button", class: "link", onclick: () => editItem(item, edit, save) }, t("organic.edit")) : null,
        h("button", {
          type: "button", class: "link", "aria-label": t("organic.removeItem", { name: item.name ?? item.title ?? item.id }),
          onclick: async () => {
            const name = item.name ?? item.title ?? item.id;
            const sure = await confirmAction({ title: t("confirm.remove", { name }), body: removing, confirm: t("common.remove") });
            if (!sure) return;
            try { await remove(item); } catch (error) { showError(error); }
          },
        }, t("common.remove")),
        extra?.(item))))),
    form);
}

/** An edit dialog for the named fields. */
function editItem(item, edit, save) {
  const controls = edit(item);
  const problem = h("div");
  const name = item.name ?? item.title ?? item.id;
  const dialog = h("dialog", { "aria-label": t("organic.editItem", { name }) },
    h("form", { method: "dialog", class: "stack" },
      h("h2", {}, t("organic.editItem", { name })),
      Object.entries(controls).map(([key, control]) => field(t(`organic.field.${key}`), control)),
      problem,
      h("div", { class: "row" }, h("button", { value: "save" }, t("common.save")), h("button", { type: "button", value: "cancel", class: "secondary close" }, t("common.close")))));
  document.body.append(dialog);
  const initial = JSON.stringify(Object.values(controls).map((c) => c.value));
  guardUnsaved(dialog, () => JSON.stringify(Object.values(controls).map((c) => c.value)) !== initial, dialog.querySelector("button.close"));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue === "save") {
      try { await save(item, controls); } catch (error) { showError(error); }
    }
    dialog.remove();
  });
  dialog.showModal();
}

function brandsPanel(state) {
  return crud({
    id: "brands", title: t("organic.brands"), adding: t("organic.addBrand"), removing: t("confirm.removeBrandBody"), items: state.brands,
    label: (b) => h("a", { href: `#/organic/${encodeURIComponent(b.id)}/${state.weekStart}`, "aria-current": b.id === state.brandId ? "page" : null },
      `${b.name} · ${b.timezone}`),
    fields: () => ({
      id: h("input", { name: "id" }),
      name: h("input", { name: "name", required: true }),
      timezone: timeZonePicker("timezone"),
      hashtags: h("input", { name: "hashtags", placeholder: "#brand" }),
    }),
    add: async (f) => {
      const brand = await api("POST", "/api/organic/brands", {
        id: opt(f.id.value), name: f.name.value, timezone: f.timezone.value,
        hashtags: words(f.hashtags.value),
      });
      toast(t("organic.brandAdded", { name: brand.name }));
      location.hash = `#/organic/${encodeURIComponent(brand.id)}/${state.weekStart}`;
    },
    edit: (b) => ({
      name: h("input", { name: "name", value: b.name }),
      timezone: timeZonePicker("timezone", b.timezone),
      hashtags: h("input", { name: "hashtags", value: b.hashtags.join(" ") }),
    }),
    save: async (b, f) => {
      await api("PATCH", `/api/organic/brands/${encodeURIComponent(b.id)}`, {
        name: f.name.value, timezone: f.timezone.value, hashtags: words(f.hashtags.value),
      });
      await refresh(state);
    },
    remove: async (b) => {
      await api("DELETE", `/api/organic/brands/${encodeURIComponent(b.id)}`);
      if (b.id === state.brandId) location.hash = "#/organic"; else await refresh(state);
    },
  });
}

function trendsPanel(state) {
  return crud({
    id: "trends", title: t("organic.trends"), explain: t("organic.trendsExplain"), adding: t("organic.addTrend"), removing: t("confirm.removeTrendBody"), items: state.trends,
    label: (trend) => h("span", {}, h("span", { class: "badge" }, t(`organic.trendKind.${trend.kind}`)), ` ${trend.title} · ${trend.keywords.join(", ")}`),
    fields: () => ({
      id: h("input", { name: "id" }),
      kind: select("kind", TREND_KINDS.map((k) => [k, t(`organic.trendKind.${k}`)]), "trend"),
      title: h("input", { name: "title", required: true }),
      keywords: h("input", { name: "keywords", required: true }),
    }),
    add: async (f) => {
      await api("POST", "/api/organic/trends", {
        id: opt(f.id.value), kind: f.kind.value, title: f.title.value, keywords: words(f.keywords.value),
      });
      await refresh(state);
    },
    edit: (trend) => ({
      title: h("input", { name: "title", value: trend.title }),
      keywords: h("input", { name: "keywords", value: trend.keywords.join(", ") }),
    }),
    save: async (trend, f) => {
      await api("PATCH", `/api/organic/trends/${encodeURIComponent(trend.id)}`, { title: f.title.value, keywords: words(f.keywords.value) });
      await refresh(state);
    },
    remove: async (trend) => { await api("DELETE", `/api/organic/trends/${encodeURIComponent(trend.id)}`); await refresh(state); },
  });
}

function assetsPanel(state) {
  return crud({
    id: "assets", title: t("organic.assets"), explain: t("organic.assetsExplain"), adding: t("organic.addAsset"), removing: t("confirm.removeAssetBody"), items: state.assets,
    label: (a) => h("span", {}, h("span", { class: "badge" }, t(`organic.assetKind.${a.kind}`)), ` ${a.title} · ${a.tags.join(", ")}`),
    fields: () => ({
      id: h("input", { name: "id" }),
      kind: select("kind", ASSET_KINDS.map((k) => [k, t(`organic.assetKind.${k}`)]), "image"),
      title: h("input", { name: "title", required: true }),
      tags: h("input", { name: "tags", required: true }),
      url: h("input", { name: "url", type: "url" }),
    }),
    add: async (f) => {
      await api("POST", "/api/organic/assets", {
        id: opt(f.id.value), kind: f.kind.value, title: f.title.value, tags: words(f.tags.value),
        url: opt(f.url.value),
      });
      await refresh(state);
    },
    edit: (a) => ({
      title: h("input", { name: "title", value: a.title }),
      tags: h("input", { name: "tags", value: a.tags.join(", ") }),
    }),
    save: async (a, f) => {
      await api("PATCH", `/api/organic/assets/${encodeURIComponent(a.id)}`, { title: f.title.value, tags: words(f.tags.value) });
      await refresh(state);
    },
    remove: async (a) => { await api("DELETE", `/api/organic/assets/${encodeURIComponent(a.id)}`); await refresh(state); },
  });
}

/** `9:00 AM` on `2026-01-26` in `timeZone` as a UTC instant. */
function zonedToUtc(dayId, time, timeZone) {
  const guess = new Date(`${dayId}T${time}:00Z`);
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(guess);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const shown = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"));
  return new Date(guess.getTime() - (shown - guess.getTime()));
}

/** An instant's `HH:MM` in `timeZone` (the brand's). */
function zonedTime(iso, timeZone) {
  return new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

function timeLabel(time) {
  const [hours, minutes] = time.split(":").map(Number);
  return `${((hours + 11) % 12) + 1}:${String(minutes).padStart(2, "0")} ${hours < 12 ? "AM" : "PM"}`;
}

const weekDays = (weekStart) => Array.from({ length: 7 }, (_, i) =>
  new Date(Date.parse(`${weekStart}T00:00:00Z`) + i * 86400e3).toISOString().slice(0, 10));

async function renderBoard(state) {
  const brand = state.brands.find((b) => b.id === state.brandId);
  if (!brand) return fill(state.board, h("p", { class: "notice bad" }, t("organic.noBrand")));
  const accounts = await api("GET", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts`);
  const days = weekDays(state.weekStart);
  const seeds = [];
  // One row per day: the day, then its cards side by side.
  const columns = new Map(days.map((d) => [d, h("div", { class: "cards" })]));
  const rows = days.map((d) => h("section", { class: "day-row", dataset: { day: d } },
    h("h3", {}, formatDay(d, { weekday: "long" }), h("span", { class: "muted" }, formatDay(d, { day: "numeric", month: "short" }))),
    columns.get(d)));
  const errors = h("div", { id: "placement-errors" });
  const progress = h("progress", { id: "organic-progress", max: 1, value: 0, hidden: true, "aria-label": t("common.generationProgress") });
  const status = h("p", { id: "organic-status", role: "status", "aria-live": "polite" });
  const seedList = h("ul", { class: "list", id: "seeds" });

  // Linked accounts, each one usable by the week's request.
  const accountProblem = h("div");
  const platformOptions = organicPlatforms().map((p) => [p, channelLabel(p)]);
  const newAccount = { platform: select("platform", platformOptions, organicPlatforms()[0]), accountId: h("input", { name: "accountId", required: true }) };
  const accountForm = h("form", { class: "row", id: "account-form" },
    field(t("organic.platform"), newAccount.platform), field(t("organic.accountId"), newAccount.accountId), h("button", {}, t("organic.linkAccount")), accountProblem);
  accountForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts`, {
        platform: newAccount.platform.value, accountId: newAccount.accountId.value.trim(),
      });
      await refresh(state);
    } catch (error) {
      showProblem(error, { root: accountForm, problem: accountProblem, fields: newAccount });
    }
  });
  const useAccount = accounts.map((a) => check(`${channelLabel(a.platform)} · ${a.accountId}`, { name: "use-account", value: `${a.platform}|${a.accountId}`, checked: true }));

  // Seeds from the trend library.
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
  const seedForm = h("form", { class: "row", id: "seed-form" },
    field(t("organic.trend"), seedFields.trend), field(t("organic.day"), seedFields.day), field(t("organic.seedTime"), seedFields.time),
    field(t("organic.platform"), seedFields.platform), field(t("organic.account"), seedFields.account), field(t("organic.format"), seedFields.format),
    h("button", { type: "submit", id: "add-seed" }, t("organic.addSeed")));
  // The draft on the server: the seeds and options as they are, saved a moment after each
  // change. "Saved" is said only of what the server took; a refusal says why, in words.
  const draftPath = `/api/organic/brands/${encodeURIComponent(brand.id)}/weeks/${state.weekStart}/draft`;
  let draftTimer = null;
  let restoring = false;
  let draftFailed = false;
  draftUnsaved = () => draftTimer !== null || draftFailed;
  const saveDraft = () => {
    if (restoring) return;
    clearTimeout(draftTimer);
    draftStatus.textContent = t("organic.draftSaving");
    draftStatus.classList.remove("bad");
    draftTimer = setTimeout(async () => {
      const fields = { "options.language": options.language, "options.guidancePrompt": options.guidance, "options.schedulePreset": options.preset };
      for (const control of Object.values(fields)) clearProblems(control.closest("label"));
      try {
        await api("PUT", draftPath, { placements: seeds, options: chosenOptions() });
        draftFailed = false;
        draftStatus.textContent = t("organic.draftSaved");
      } catch (error) {
        draftFailed = true;
        draftStatus.textContent = t("organic.draftNotSaved", { reason: explain(error) });
        draftStatus.classList.add("bad");
        // And at the option it is about, when it is one of these.
        const control = fields[error?.details?.field];
        if (control) fieldError(control, explain(error));
      } finally {
        draftTimer = null;
      }
    }, 300);
  };
  const addSeed = (seed, time) => {
    // Kept beside the request's fields, for the page's own words about it (not sent).
    Object.defineProperty(seed, "time", { value: time, enumerable: false });
    seeds.push(seed);
    seedsChanged();
    const trendTitle = state.trends.find((trend) => trend.id === seed.trendId)?.title ?? seed.trendId;
    seedList.append(h("li", { dataset: { placement: seed.placementId } }, `${trendTitle}: ${channelLabel(seed.platform)}${seed.accountId ? ` (${seed.accountId})` : ""} · ${day(seed.dayId)} ${formatTime(time)}`,
      " ", h("button", { type: "button", class: "link", onclick: (e) => { seeds.splice(seeds.indexOf(seed), 1); e.target.closest("li").remove(); seedsChanged(); } }, t("common.remove"))));
  };
  seedForm.addEventListener("submit", (event) => {
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
    addSeed(seed, time);
  });

  const options = {
    preset: select("schedulePreset", [["", t("organic.presetNone")], ["beta-launch", t("organic.presetBeta")]], ""),
    newsletter: check(t("organic.newsletter"), { name: "includeNewsletter" }),
    language: h("input", { name: "language", value: navigator.language || "en-US" }),
    guidance: h("textarea", { name: "guidancePrompt", rows: 2 }),
    overwrite: check(t("organic.overwrite"), { name: "overwriteEdited" }),
  };
  const week = h("input", { type: "date", name: "weekStart", value: state.weekStart, step: 7 });
  week.addEventListener("change", () => { location.hash = `#/organic/${encodeURIComponent(brand.id)}/${week.value}`; });
  const generate = h("button", { type: "button", id: "generate-week", disabled: true, "aria-describedby": "seeds-needed" }, t("organic.generate"));
  // Seed 003 plans from seeds: Generate waits for the first one, and says so.
  const seedsNeeded = h("p", { class: "hint", id: "seeds-needed" }, t("organic.seedsNeeded"));
  const draftStatus = h("span", { class: "hint", id: "draft-status", "aria-live": "polite" });
  const seedsChanged = () => {
    generate.disabled = seeds.length === 0;
    seedsNeeded.hidden = seeds.length > 0;
    saveDraft();
  };
  const chosenOptions = () => {
    const chosen = {
      includeNewsletter: options.newsletter.querySelector("input").checked,
      language: options.language.value.trim() || undefined,
      guidancePrompt: options.guidance.value.trim() || undefined,
      overwriteEdited: options.overwrite.querySelector("input").checked,
    };
    if (options.preset.value) chosen.schedulePreset = options.preset.value;
    return chosen;
  };
  for (const control of [options.preset, options.newsletter, options.language, options.guidance, options.overwrite]) {
    control.addEventListener("change", saveDraft);
  }
  const board = h("div", { class: "week-rows", id: "week" }, rows);

  const placeCard = (p) => {
    const column = columns.get(p.schedule.dayId);
    if (!column) return;
    const tiers = ["high", "medium", "low"].filter((tier) => p.copy.hashtags[tier]?.length);
    const assets = p.creative.assetIds.map((id) => state.assets.find((a) => a.id === id)?.title).filter(Boolean);
    const card = h("article", { class: `card placement${p.edited ? " edited" : ""}`, dataset: { placement: p.placementId } },
      h("div", { class: "row card-head" },
        platformBadge(p.platform.name), h("span", { class: "time" }, p.schedule.timeLabel ?? formatTime(p.schedule.timeOfDay ?? "")),
        p.schedule.adjusted ? h("span", { class: "badge warn", title: t("organic.adjustedHint") }, t("organic.adjusted")) : null,
        p.auto ? h("span", { class: "badge", title: t("organic.autoHint") }, t("organic.auto")) : null,
        p.edited ? h("span", { class: "badge edited" }, t("calendar.edited")) : null,
        h("button", { type: "button", class: "link edit-placement", "aria-label": t("organic.editPlacementLabel", { title: p.content.titleTopic }), onclick: () => editPlacement(p) }, t("organic.edit"))),
      h("h4", { class: "title" }, p.content.titleTopic),
      h("p", { class: "caption" }, p.copy.caption),
      tiers.length ? h("div", { class: "tiers" }, tiers.map((tier) => h("div", { class: `tier ${tier}` },
        h("span", { class: "muted" }, t(`organic.tier.${tier}`)), " ",
        p.copy.hashtags[tier].map((tag) => h("span", { class: "tag" }, tag))))) : null,
      assets.length ? h("div", { class: "muted assets" }, t("organic.assetsUsed", { assets: assets.join(", ") })) : null);
    const existing = board.querySelector(`[data-placement="${CSS.escape(p.placementId)}"]`);
    if (existing) existing.replaceWith(card); else column.append(card);
  };

  // A placement opened to edit: its caption, hashtags by tier and time (the brand's zone).
  const editPlacement = async (p) => {
    const local = zonedTime(p.schedule.scheduledAt, brand.timezone);
    const controls = {
      caption: h("textarea", { name: "caption", rows: 5, maxlength: 2200, value: p.copy.caption }),
      high: h("input", { name: "high", value: (p.copy.hashtags.high ?? []).join(" ") }),
      medium: h("input", { name: "medium", value: (p.copy.hashtags.medium ?? []).join(" ") }),
      low: h("input", { name: "low", value: (p.copy.hashtags.low ?? []).join(" ") }),
      time: h("input", { name: "time", type: "time", value: local }),
    };
    const problem = h("div");
    // The caption and every tier's hashtags, a blank line apart, against the platform's limit.
    const tags = () => [controls.high, controls.medium, controls.low].flatMap((c) => words(c.value));
    const live = await textCounter(p.platform.name, p.content.format, () => ({ text: compose(controls.caption.value, "", tags()), title: p.content.titleTopic }));
    for (const control of [controls.caption, controls.high, controls.medium, controls.low]) control.addEventListener("input", live.update);
    const dialog = h("dialog", { id: "placement-editor", "aria-labelledby": "placement-editor-title" },
      h("form", { method: "dialog", class: "stack" },
        h("h2", { id: "placement-editor-title" }, p.content.titleTopic),
        h("p", { class: "muted" }, `${channelLabel(p.platform.name)} · ${day(p.schedule.dayId)}`),
        field(t("organic.caption"), controls.caption),
        h("div", { class: "row" }, field(t("organic.tier.high"), controls.high), field(t("organic.tier.medium"), controls.medium), field(t("organic.tier.low"), controls.low)),
        live.el,
        field(t("organic.timeIn", { zone: brand.timezone }), controls.time),
        h("p", { class: "hint" }, t("organic.editKept")),
        problem,
        h("div", { class: "row" },
          h("button", { type: "submit", id: "placement-save" }, t("common.save")),
          h("button", { type: "button", class: "secondary", id: "placement-close" }, t("common.close")))));
    document.body.append(dialog);
    const values = () => JSON.stringify(Object.values(controls).map((c) => c.value));
    let initial = values();
    guardUnsaved(dialog, () => values() !== initial, dialog.querySelector("#placement-close"));
    dialog.querySelector("form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        caption: controls.caption.value,
        hashtags: { high: words(controls.high.value), medium: words(controls.medium.value), low: words(controls.low.value) },
      };
      if (controls.time.value && controls.time.value !== local) {
        body.scheduledAt = zonedToUtc(p.schedule.dayId, controls.time.value.slice(0, 5), brand.timezone).toISOString();
      }
      const saveButton = dialog.querySelector("#placement-save");
      saveButton.disabled = true;
      try {
        const saved = await api("PATCH", `/api/organic/brands/${encodeURIComponent(brand.id)}/placements/${encodeURIComponent(p.placementId)}?weekStart=${state.weekStart}`, body);
        placeCard(saved);
        initial = values();
        dialog.close();
        toast(t("organic.placementSaved"));
      } catch (error) {
        showProblem(error, { root: dialog, problem, fields: { caption: controls.caption, scheduledAt: controls.time, hashtags: controls.high } });
      } finally {
        saveButton.disabled = false;
      }
    });
    dialog.addEventListener("close", () => dialog.remove());
    dialog.showModal();
  };

  generate.addEventListener("click", async () => {
    const chosen = [...state.board.querySelectorAll("input[name=use-account]:checked")].map((b) => b.value.split("|"));
    const body = {
      brandProfileId: brand.id, weekStart: state.weekStart, timezone: brand.timezone,
      platformAccountIds: Object.fromEntries(chosen),
      placements: seeds,
      options: { ...chosenOptions(), preferredPlatforms: [...new Set(chosen.map(([platform]) => platform))] },
    };
    generate.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    errors.replaceChildren();
    for (const column of columns.values()) column.querySelectorAll(".card.error").forEach((c) => c.remove());
    status.textContent = t("common.generating");
    delete status.dataset.state;
    abort = new AbortController();
    try {
      await ndjson("/api/organic/generate-calendar", body, (line) => {
        if (line.type === "progress") {
          if (line.total) { progress.max = line.total; progress.value = line.completed; }
          status.textContent = progressText(line) || status.textContent;
        } else if (line.type === "placement") {
          placeCard(line.placement);
        } else if (line.type === "error") {
          // Said in words, under the seed it is about (its trend and day), never as a code.
          const seed = seeds.find((x) => x.placementId === line.placementId);
          const trend = seed && state.trends.find((x) => x.id === seed.trendId);
          const about = seed ? `${trend?.title ?? ""} · ${day(seed.dayId)} ${formatTime(seed.time)}` : "";
          const said = has(`errors.code.${line.code}`)
            ? t(`errors.code.${line.code}`, { platform: channelLabel(seed?.platform ?? "") })
            : line.message;
          // On its day, beside the posts that did go out.
          const card = h("article", { class: "card error", role: "alert", dataset: { error: line.code, errorFor: line.placementId } },
            about ? h("strong", {}, about) : null, h("div", {}, said));
          const column = seed && columns.get(seed.dayId);
          if (column) column.append(card); else errors.append(card);
        } else if (line.type === "complete") {
          const c = line.counts ?? {};
          status.textContent = t("organic.complete", { status: t(`status.${line.status}`), placements: c.placements ?? 0, autoFilled: c.autoFilled ?? 0, adjusted: c.adjusted ?? 0, errors: c.errors ?? 0 });
          status.dataset.state = line.status;
        }
      }, abort.signal);
      if (status.textContent === t("common.generating")) status.textContent = "";
    } catch (error) {
      if (error.name === "AbortError") return;
      // Nothing is being generated any more: the status says what failed, in words.
      status.textContent = t("organic.generationFailed", { reason: explain(error) });
      status.dataset.state = "failed";
    } finally {
      generate.disabled = seeds.length === 0;
      seedsNeeded.hidden = seeds.length > 0;
      progress.hidden = true;
    }
  });

  fill(state.board,
    h("section", { class: "panel stack" },
      h("h2", {}, t("organic.weekOf", { brand: brand.name, day: day(state.weekStart) })),
      field(t("organic.weekStart"), week),
      h("h3", {}, t("organic.linkedAccounts")),
      h("p", { class: "muted" }, t("organic.accountsHint")),
      accounts.length ? null : h("p", { class: "muted" }, t("organic.noLinked")),
      // One list: each account, whether this week uses it, and Unlink.
      h("ul", { class: "list", id: "linked-accounts" }, accounts.map((a, i) => h("li", { class: "row" }, useAccount[i],
        h("button", {
          type: "button", class: "link", "aria-label": t("organic.unlinkLabel", { account: a.accountId }),
          onclick: async () => {
            const sure = await confirmAction({ title: t("confirm.unlink", { account: a.accountId }), body: t("confirm.unlinkBody"), confirm: t("organic.unlink") });
            if (!sure) return;
            try { await api("DELETE", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts/${encodeURIComponent(a.accountId)}`); await refresh(state); } catch (e) { showError(e); }
          },
        }, t("organic.unlink"))))),
      accountForm),
    h("section", { class: "panel stack" },
      h("h3", {}, t("organic.seeds")), h("p", { class: "hint explain" }, t("organic.seedsExplain")),
      seedForm, seedList, seedsNeeded,
      h("h3", {}, t("organic.options")),
      h("div", { class: "row" }, field(t("organic.preset"), options.preset), field(t("organic.language"), options.language)),
      h("p", { class: "hint explain" }, t("organic.presetExplain")),
      options.newsletter, options.overwrite, field(t("organic.guidance"), options.guidance),
      h("div", { class: "row" }, generate, draftStatus), progress, status),
    errors, board);

  // The week's draft, as it was left here or on another device.
  try {
    const draft = await api("GET", draftPath);
    restoring = true;
    for (const seed of draft.placements) {
      const time = zonedTime(seed.scheduledAt, brand.timezone);
      addSeed(Object.fromEntries(Object.entries(seed).filter(([, v]) => v !== null && v !== undefined)), time);
    }
    const chosen = draft.options ?? {};
    if (chosen.schedulePreset) options.preset.value = chosen.schedulePreset;
    if (chosen.includeNewsletter) options.newsletter.querySelector("input").checked = true;
    if (chosen.overwriteEdited) options.overwrite.querySelector("input").checked = true;
    if (chosen.language) options.language.value = chosen.language;
    if (chosen.guidancePrompt) options.guidance.value = chosen.guidancePrompt;
    if (draft.updatedAt) draftStatus.textContent = t("organic.draftRestored");
  } catch (error) {
    showError(error);
  } finally {
    restoring = false;
  }

  try {
    const saved = await api("GET", `/api/organic/brands/${encodeURIComponent(brand.id)}/weeks/${state.weekStart}`);
    saved.placements.forEach(placeCard);
  } catch (error) {
    if (error.status !== 404) showError(error);
  }
}
