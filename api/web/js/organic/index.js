// Organic week (seed 003): the brand library (brands with linked accounts, trends, creative
// assets) and a brand's week, one row per day, whose cards fill from the NDJSON stream and
// open in an edit dialog. The week's seeds and options are a draft kept on the server, so
// a reload or another device finds them as they were left.

import { h, fill, monday } from "../ui.js";
import { t } from "../i18n.js";
import { renderBoard } from "./board.js";
import { page } from "./common.js";
import { renderLibrary } from "./library.js";
import { forgetChannels } from "./accounts.js";

export function leave() {
  forgetChannels();
  page.abort?.abort();
  page.abort = null;
  page.draftUnsaved = () => false;
}

/** Whether leaving now would lose something typed here. */
export function unsaved() {
  return page.draftUnsaved();
}

export async function show(view, [brandId, weekStart]) {
  leave();
  const library = h("div", { class: "stack", id: "library" });
  const board = h("div", { class: "stack", id: "board" });
  fill(view, h("h1", {}, t("organic.title")), h("div", { class: "split" }, library, board));
  const state = { view, brandId, weekStart: weekStart ?? monday(1), library, board };
  state.refresh = () => show(view, [state.brandId, state.weekStart].filter(Boolean));
  await renderLibrary(state);
  if (brandId) await renderBoard(state);
  else fill(board, h("p", { class: "panel muted" }, t("organic.chooseBrand")));
}
