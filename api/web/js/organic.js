// Organic week (seed 003): the brand library (brands with linked accounts, trends, creative
// assets) and a 7-day board for a brand whose cards fill from the NDJSON stream.

import { api, ndjson } from "./api.js";
import { h, field, check, fill, toast, day, monday, showError, words } from "./ui.js";

const PLATFORMS = ["instagram", "linkedin", "facebook", "tiktok", "youtube"];
const TREND_KINDS = ["trend", "question", "event"];
const ASSET_KINDS = ["image", "video", "carousel", "document"];
let abort = null;

export function leave() {
  abort?.abort();
  abort = null;
}

const select = (name, options, value) => h("select", { name },
  options.map((o) => (Array.isArray(o) ? o : [o, o])).map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
const opt = (text) => (text.trim() ? text.trim() : undefined);

export async function show(view, [brandId, weekStart]) {
  leave();
  const library = h("div", { class: "stack", id: "library" });
  const board = h("div", { class: "stack", id: "board" });
  fill(view, h("h1", {}, "Organic week"), h("div", { class: "split" }, library, board));
  const state = { view, brandId, weekStart: weekStart ?? monday(1), library, board };
  await renderLibrary(state);
  if (brandId) await renderBoard(state);
  else fill(board, h("p", { class: "panel muted" }, "Choose or add a brand to plan its week."));
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
function crud({ id, title, items, label, add, fields, save, edit, remove, extra }) {
  const problem = h("div");
  const inputs = fields();
  const form = h("form", { class: "stack", id: `${id}-form` },
    h("h3", {}, `Add ${title.toLowerCase().replace(/s$/, "")}`),
    Object.entries(inputs).map(([name, control]) => field(name, control)),
    h("button", { type: "submit" }, "Add"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await add(inputs);
    } catch (error) {
      showError(error, problem);
    }
  });
  return h("section", { class: "panel", id }, h("h2", {}, title),
    h("ul", { class: "list" }, items.map((item) => h("li", { dataset: { id: item.id } },
      label(item),
      h("div", { class: "row" },
        edit ? h("button", { type: "button", class: "link", onclick: () => editItem(item, edit, save) }, "Edit") : null,
        h("button", {
          type: "button", class: "link", "aria-label": `Remove ${item.id}`,
          onclick: async () => { try { await remove(item); } catch (error) { showError(error); } },
        }, "Remove"),
        extra?.(item))))),
    form);
}

/** An edit dialog for the named fields. */
function editItem(item, edit, save) {
  const controls = edit(item);
  const problem = h("div");
  const dialog = h("dialog", { "aria-label": `Edit ${item.id}` },
    h("form", { method: "dialog", class: "stack" },
      h("h2", {}, `Edit ${item.id}`),
      Object.entries(controls).map(([name, control]) => field(name, control)),
      problem,
      h("div", { class: "row" }, h("button", { value: "save" }, "Save"), h("button", { value: "cancel", class: "secondary" }, "Close"))));
  document.body.append(dialog);
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
    id: "brands", title: "Brands", items: state.brands,
    label: (b) => h("a", { href: `#/organic/${encodeURIComponent(b.id)}/${state.weekStart}`, "aria-current": b.id === state.brandId ? "page" : null },
      `${b.name} (${b.id}) · ${b.timezone}`),
    fields: () => ({
      "Id (optional)": h("input", { name: "id" }),
      Name: h("input", { name: "name", required: true }),
      "Time zone": h("input", { name: "timezone", required: true, value: Intl.DateTimeFormat().resolvedOptions().timeZone }),
      Hashtags: h("input", { name: "hashtags", placeholder: "#brand" }),
    }),
    add: async (f) => {
      const brand = await api("POST", "/api/organic/brands", {
        id: opt(f["Id (optional)"].value), name: f.Name.value, timezone: f["Time zone"].value,
        hashtags: words(f.Hashtags.value),
      });
      toast(`Brand ${brand.name} added`);
      location.hash = `#/organic/${encodeURIComponent(brand.id)}/${state.weekStart}`;
    },
    edit: (b) => ({
      Name: h("input", { name: "name", value: b.name }),
      "Time zone": h("input", { name: "timezone", value: b.timezone }),
      Hashtags: h("input", { name: "hashtags", value: b.hashtags.join(" ") }),
    }),
    save: async (b, f) => {
      await api("PATCH", `/api/organic/brands/${encodeURIComponent(b.id)}`, {
        name: f.Name.value, timezone: f["Time zone"].value, hashtags: words(f.Hashtags.value),
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
    id: "trends", title: "Trends", items: state.trends,
    label: (t) => h("span", {}, h("span", { class: "badge" }, t.kind), ` ${t.title} (${t.id}) · ${t.keywords.join(", ")}`),
    fields: () => ({
      "Id (optional)": h("input", { name: "id" }),
      Kind: select("kind", TREND_KINDS, "trend"),
      Title: h("input", { name: "title", required: true }),
      Keywords: h("input", { name: "keywords", required: true }),
    }),
    add: async (f) => {
      await api("POST", "/api/organic/trends", {
        id: opt(f["Id (optional)"].value), kind: f.Kind.value, title: f.Title.value, keywords: words(f.Keywords.value),
      });
      await refresh(state);
    },
    edit: (t) => ({
      Title: h("input", { name: "title", value: t.title }),
      Keywords: h("input", { name: "keywords", value: t.keywords.join(", ") }),
    }),
    save: async (t, f) => {
      await api("PATCH", `/api/organic/trends/${encodeURIComponent(t.id)}`, { title: f.Title.value, keywords: words(f.Keywords.value) });
      await refresh(state);
    },
    remove: async (t) => { await api("DELETE", `/api/organic/trends/${encodeURIComponent(t.id)}`); await refresh(state); },
  });
}

function assetsPanel(state) {
  return crud({
    id: "assets", title: "Creative assets", items: state.assets,
    label: (a) => h("span", {}, h("span", { class: "badge" }, a.kind), ` ${a.title} (${a.id}) · ${a.tags.join(", ")}`),
    fields: () => ({
      "Id (optional)": h("input", { name: "id" }),
      Kind: select("kind", ASSET_KINDS, "image"),
      Title: h("input", { name: "title", required: true }),
      Tags: h("input", { name: "tags", required: true }),
      "URL (optional)": h("input", { name: "url", type: "url" }),
    }),
    add: async (f) => {
      await api("POST", "/api/organic/assets", {
        id: opt(f["Id (optional)"].value), kind: f.Kind.value, title: f.Title.value, tags: words(f.Tags.value),
        url: opt(f["URL (optional)"].value),
      });
      await refresh(state);
    },
    edit: (a) => ({
      Title: h("input", { name: "title", value: a.title }),
      Tags: h("input", { name: "tags", value: a.tags.join(", ") }),
    }),
    save: async (a, f) => {
      await api("PATCH", `/api/organic/assets/${encodeURIComponent(a.id)}`, { title: f.Title.value, tags: words(f.Tags.value) });
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

function timeLabel(time) {
  const [hours, minutes] = time.split(":").map(Number);
  return `${((hours + 11) % 12) + 1}:${String(minutes).padStart(2, "0")} ${hours < 12 ? "AM" : "PM"}`;
}

const weekDays = (weekStart) => Array.from({ length: 7 }, (_, i) =>
  new Date(Date.parse(`${weekStart}T00:00:00Z`) + i * 86400e3).toISOString().slice(0, 10));

async function renderBoard(state) {
  const brand = state.brands.find((b) => b.id === state.brandId);
  if (!brand) return fill(state.board, h("p", { class: "notice bad" }, `No brand ${state.brandId}.`));
  const accounts = await api("GET", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts`);
  const days = weekDays(state.weekStart);
  const seeds = [];
  const columns = new Map(days.map((d) => [d, h("div", { class: "day", dataset: { day: d } }, h("h3", {}, day(d)))]));
  const errors = h("div", { id: "placement-errors" });
  const progress = h("progress", { id: "organic-progress", max: 1, value: 0, hidden: true, "aria-label": "Generation progress" });
  const status = h("p", { id: "organic-status", role: "status", "aria-live": "polite" });
  const seedList = h("ul", { class: "list", id: "seeds" });

  // Linked accounts, each one usable by the week's request.
  const accountProblem = h("div");
  const newAccount = { platform: select("platform", PLATFORMS, "instagram"), accountId: h("input", { name: "accountId", required: true }) };
  const accountForm = h("form", { class: "row", id: "account-form" },
    field("Platform", newAccount.platform), field("Account id", newAccount.accountId), h("button", {}, "Link account"), accountProblem);
  accountForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts`, {
        platform: newAccount.platform.value, accountId: newAccount.accountId.value.trim(),
      });
      await refresh(state);
    } catch (error) { showError(error, accountProblem); }
  });
  const useAccount = accounts.map((a) => check(`${a.platform}: ${a.accountId}`, { name: "use-account", value: `${a.platform}|${a.accountId}`, checked: true }));

  // Seeds from the trend library.
  const seedFields = {
    trend: select("trend", state.trends.map((t) => [t.id, `${t.title} (${t.id})`]), state.trends[0]?.id),
    day: select("day", days.map((d) => [d, day(d)]), days[0]),
    time: h("input", { type: "time", name: "time", value: "09:00", required: true }),
    platform: select("platform", PLATFORMS, "instagram"),
    account: select("account", [["", "(no account)"], ...accounts.map((a) => [a.accountId, `${a.platform}: ${a.accountId}`])], ""),
    format: h("input", { name: "desiredFormat", placeholder: "reel" }),
  };
  const seedForm = h("form", { class: "row", id: "seed-form" },
    field("Trend", seedFields.trend), field("Day", seedFields.day), field("Time (brand's zone)", seedFields.time),
    field("Platform", seedFields.platform), field("Account", seedFields.account), field("Format", seedFields.format),
    h("button", { type: "submit", id: "add-seed" }, "Add seed"));
  seedForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const trendId = seedFields.trend.value;
    if (!trendId) return toast("Add a trend to the library first.");
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
    if (seedFields.format.value.trim()) seed.desiredFormat = seedFields.format.value.trim();
    seeds.push(seed);
    seedList.append(h("li", {}, `${seed.placementId}: ${seed.platform}${seed.accountId ? ` (${seed.accountId})` : ""} · ${day(dayId)} ${seed.timeLabel}`,
      " ", h("button", { type: "button", class: "link", onclick: (e) => { seeds.splice(seeds.indexOf(seed), 1); e.target.closest("li").remove(); } }, "Remove")));
  });

  const options = {
    preset: select("schedulePreset", [["", "(none: only my seeds)"], ["beta-launch", "beta-launch (fill empty days)"]], ""),
    newsletter: check("Include the newsletter", { name: "includeNewsletter" }),
    language: h("input", { name: "language", value: navigator.language || "en-US" }),
    guidance: h("textarea", { name: "guidancePrompt", rows: 2 }),
    overwrite: check("Overwrite my edited placements", { name: "overwriteEdited" }),
  };
  const week = h("input", { type: "date", name: "weekStart", value: state.weekStart, step: 7 });
  week.addEventListener("change", () => { location.hash = `#/organic/${encodeURIComponent(brand.id)}/${week.value}`; });
  const generate = h("button", { type: "button", id: "generate-week" }, "Generate the week");
  const board = h("div", { class: "week", id: "week" }, [...columns.values()]);

  const placeCard = (p) => {
    const column = columns.get(p.schedule.dayId);
    if (!column) return;
    const card = h("article", { class: "card", dataset: { placement: p.placementId } },
      h("div", { class: "row" },
        h("span", { class: "badge" }, p.platform.name), p.schedule.timeLabel ?? "",
        p.schedule.adjusted ? h("span", { class: "badge warn", title: "Moved to keep posts of one account apart" }, "adjusted") : null,
        p.auto ? h("span", { class: "badge" }, "auto") : null,
        p.edited ? h("span", { class: "badge edited" }, "edited") : null),
      h("div", { class: "title" }, p.content.titleTopic),
      h("div", {}, p.copy.caption),
      h("div", { class: "muted" }, [...(p.copy.hashtags.high ?? []), ...(p.copy.hashtags.medium ?? []), ...(p.copy.hashtags.low ?? [])].join(" ")),
      p.creative.assetIds.length ? h("div", { class: "muted" }, `assets: ${p.creative.assetIds.join(", ")}`) : null);
    const existing = board.querySelector(`[data-placement="${CSS.escape(p.placementId)}"]`);
    if (existing) existing.replaceWith(card); else column.append(card);
  };

  generate.addEventListener("click", async () => {
    const chosen = [...state.board.querySelectorAll("input[name=use-account]:checked")].map((b) => b.value.split("|"));
    const body = {
      brandProfileId: brand.id, weekStart: state.weekStart, timezone: brand.timezone,
      platformAccountIds: Object.fromEntries(chosen),
      placements: seeds,
      options: {
        includeNewsletter: options.newsletter.querySelector("input").checked,
        language: options.language.value.trim() || undefined,
        guidancePrompt: options.guidance.value.trim() || undefined,
        preferredPlatforms: [...new Set(chosen.map(([platform]) => platform))],
        overwriteEdited: options.overwrite.querySelector("input").checked,
      },
    };
    if (options.preset.value) body.options.schedulePreset = options.preset.value;
    generate.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    errors.replaceChildren();
    for (const column of columns.values()) column.querySelectorAll(".card").forEach((c) => c.remove());
    status.textContent = "Generating…";
    abort = new AbortController();
    try {
      await ndjson("/api/organic/generate-calendar", body, (line) => {
        if (line.type === "progress") {
          if (line.total) { progress.max = line.total; progress.value = line.completed; }
          status.textContent = line.message ?? status.textContent;
        } else if (line.type === "placement") {
          placeCard(line.placement);
        } else if (line.type === "error") {
          errors.append(h("article", { class: "card error", dataset: { error: line.code } },
            h("strong", {}, line.code), line.placementId ? ` · ${line.placementId}` : "", h("div", {}, line.message)));
        } else if (line.type === "complete") {
          const c = line.counts ?? {};
          status.textContent = `${line.status}: ${c.placements ?? 0} placements, ${c.autoFilled ?? 0} auto-filled, ${c.adjusted ?? 0} adjusted, ${c.errors ?? 0} errors.`;
          status.dataset.state = line.status;
        }
      }, abort.signal);
    } catch (error) {
      if (error.name !== "AbortError") showError(error, errors);
    } finally {
      generate.disabled = false;
      progress.hidden = true;
    }
  });

  fill(state.board,
    h("section", { class: "panel stack" },
      h("h2", {}, `${brand.name}: week of ${day(state.weekStart)}`),
      field("Week starting (Monday)", week),
      h("h3", {}, "Linked accounts"),
      accounts.length ? h("div", {}, useAccount) : h("p", { class: "muted" }, "No linked account yet."),
      h("ul", { class: "list" }, accounts.map((a) => h("li", {}, `${a.platform}: ${a.accountId} `,
        h("button", {
          type: "button", class: "link", "aria-label": `Unlink ${a.accountId}`,
          onclick: async () => { try { await api("DELETE", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts/${encodeURIComponent(a.accountId)}`); await refresh(state); } catch (e) { showError(e); } },
        }, "Unlink")))),
      accountForm),
    h("section", { class: "panel stack" },
      h("h3", {}, "Seeds from the trend library"), seedForm, seedList,
      h("h3", {}, "Options"),
      h("div", { class: "row" }, field("Schedule preset", options.preset), field("Language", options.language)),
      options.newsletter, options.overwrite, field("Guidance for the AI", options.guidance),
      generate, progress, status),
    errors, board);

  try {
    const saved = await api("GET", `/api/organic/brands/${encodeURIComponent(brand.id)}/weeks/${state.weekStart}`);
    saved.placements.forEach(placeCard);
  } catch (error) {
    if (error.status !== 404) showError(error);
  }
}
