// A brand's week: its linked accounts, the seeds and options of its request (a draft kept
// on the server), Generate, and the week's rows, filled from the saved week.

import { api } from "../api.js";
import { h, field, fill, day, showError } from "../ui.js";
import { t } from "../i18n.js";
import { accountsView } from "./accounts.js";
import { weekDays } from "./common.js";
import { generateView } from "./generate.js";
import { draftKeeper, optionsView } from "./options.js";
import { seedsView } from "./seeds.js";
import { reachView } from "./reach.js";
import { weekView } from "./week.js";

export async function renderBoard(state) {
  const brand = state.brands.find((b) => b.id === state.brandId);
  if (!brand) return fill(state.board, h("p", { class: "notice bad" }, t("organic.noBrand")));
  const accounts = await api("GET", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts`);
  const board = { state, brand, accounts, days: weekDays(state.weekStart), seeds: [] };
  const week = weekView(board);
  const options = optionsView();
  const draft = draftKeeper(board, options);
  const generate = generateView(board, week, options);
  const seeds = seedsView(board, () => {
    generate.update();
    draft.save();
  });
  const weekStart = h("input", { type: "date", name: "weekStart", value: state.weekStart, step: 7 });
  weekStart.addEventListener("change", () => { location.hash = `#/organic/${encodeURIComponent(brand.id)}/${weekStart.value}`; });
  const { controls } = options;
  fill(state.board,
    h("section", { class: "panel stack" },
      h("h2", {}, t("organic.weekOf", { brand: brand.name, day: day(state.weekStart) })),
      field(t("organic.weekStart"), weekStart),
      accountsView(board)),
    h("section", { class: "panel stack" },
      h("h3", {}, t("organic.seeds")), h("p", { class: "hint explain" }, t("organic.seedsExplain")),
      seeds.form, seeds.list, generate.seedsNeeded,
      h("h3", {}, t("organic.options")),
      h("div", { class: "row" }, field(t("organic.preset"), controls.preset), field(t("organic.language"), controls.language)),
      h("p", { class: "hint explain" }, t("organic.presetExplain")),
      controls.newsletter, controls.overwrite, field(t("organic.guidance"), controls.guidance),
      h("div", { class: "row" }, generate.button, draft.status), generate.progress, generate.status),
    week.errors, week.el, reachView(board).el);

  // The week's draft, as it was left here or on another device.
  try {
    await draft.restore(seeds.add);
  } catch (error) {
    showError(error);
  }
  try {
    const saved = await api("GET", `/api/organic/brands/${encodeURIComponent(brand.id)}/weeks/${state.weekStart}`);
    saved.placements.forEach(week.update);
  } catch (error) {
    if (error.status !== 404) showError(error);
  }
}
