// The brand library: brands (each a link to its week), trends and creative assets, each a
// list with an add form, an edit dialog and a confirmed removal.

import { api } from "../api.js";
import { h, field, fill, toast, showError, showProblem, timeZonePicker, confirmAction, guardUnsaved, words } from "../ui.js";
import { t } from "../i18n.js";
import { opt, select } from "./common.js";

const TREND_KINDS = ["trend", "question", "event"];
const ASSET_KINDS = ["image", "video", "carousel", "document"];

/** The library's three panels, filled from the server (`state.brands`, `trends`, `assets`
 * are kept for the week). */
export async function renderLibrary(state) {
  const [brands, trends, assets] = await Promise.all([
    api("GET", "/api/organic/brands"), api("GET", "/api/organic/trends"), api("GET", "/api/organic/assets"),
  ]);
  state.brands = brands;
  state.trends = trends;
  state.assets = assets;
  fill(state.library, brandsPanel(state), trendsPanel(state), assetsPanel(state));
}

/** A list with an add form; `edit(item)` gives the fields to change, `remove(item)` deletes. */
function crud({ id, title, explain, adding, items, label, add, fields, save, edit, remove, removing, extra }) {
  const problem = h("div");
  const inputs = fields();
  const form = h("form", { class: "stack", id: `${id}-form`, "data-needs": "editor" },
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
      await state.refresh();
    },
    remove: async (b) => {
      await api("DELETE", `/api/organic/brands/${encodeURIComponent(b.id)}`);
      if (b.id === state.brandId) location.hash = "#/organic"; else await state.refresh();
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
      await state.refresh();
    },
    edit: (trend) => ({
      title: h("input", { name: "title", value: trend.title }),
      keywords: h("input", { name: "keywords", value: trend.keywords.join(", ") }),
    }),
    save: async (trend, f) => {
      await api("PATCH", `/api/organic/trends/${encodeURIComponent(trend.id)}`, { title: f.title.value, keywords: words(f.keywords.value) });
      await state.refresh();
    },
    remove: async (trend) => { await api("DELETE", `/api/organic/trends/${encodeURIComponent(trend.id)}`); await state.refresh(); },
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
      await state.refresh();
    },
    edit: (a) => ({
      title: h("input", { name: "title", value: a.title }),
      tags: h("input", { name: "tags", value: a.tags.join(", ") }),
    }),
    save: async (a, f) => {
      await api("PATCH", `/api/organic/assets/${encodeURIComponent(a.id)}`, { title: f.title.value, tags: words(f.tags.value) });
      await state.refresh();
    },
    remove: async (a) => { await api("DELETE", `/api/organic/assets/${encodeURIComponent(a.id)}`); await state.refresh(); },
  });
}
