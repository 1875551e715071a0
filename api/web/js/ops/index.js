// The operator console (`#/ops`): the fleet's jobs as they change, found and acted on in
// bulk, queues paused and resumed, and each tenant's share. It signs in with the server's
// ADMIN_TOKEN (an `almanac_admin` cookie for 8 hours), whoever the browser's user is.

import { api, adminSession } from "../api.js";
import { h, fill, field, showError } from "../ui.js";
import { t } from "../i18n.js";
import { overview } from "./overview.js";
import { jobList } from "./jobs.js";
import { jobPage } from "./job.js";
import { attentionPanel } from "./attention.js";

let live = null;

/** Leaving the console closes its live stream. */
export function leave() {
  live?.close();
  live = null;
}

export async function show(view, [page, id]) {
  let stats;
  try {
    stats = await api("GET", "/admin/stats?window=15m");
  } catch (error) {
    if (error.status === 401) return signIn(view);
    throw error;
  }
  const head = h("div", { class: "row ops-head" },
    h("h1", {}, t("ops.title")),
    page ? h("a", { href: "#/ops", id: "ops-back" }, t("ops.back")) : null,
    h("button", {
      type: "button", class: "link", id: "ops-sign-out",
      onclick: async () => { leave(); await adminSession.close(); signIn(view); },
    }, t("ops.signOut")));
  if (page === "jobs" && id) return fill(view, head, await jobPage(id));
  const board = overview();
  const list = jobList(stats.kinds);
  fill(view, head, board.element, await attentionPanel(), list.element);
  leave();
  live = new EventSource("/admin/live?window=15m");
  live.addEventListener("frame", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    board.update(frame);
  });
  await list.load();
}

/** The console's own sign-in: the server's ADMIN_TOKEN. */
function signIn(view) {
  const token = h("input", { id: "admin-token", type: "password", autocomplete: "off", required: true });
  const problem = h("div");
  const form = h("form", { class: "panel stack narrow", id: "ops-sign-in" },
    h("h1", {}, t("ops.signInTitle")),
    h("p", { class: "muted" }, t("ops.signInHint")),
    field(t("ops.token"), token),
    h("button", { type: "submit" }, t("ops.signIn")),
    problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(problem);
    try {
      await adminSession.open(token.value.trim());
      await show(view, []);
    } catch (error) {
      showError(error, problem);
    }
  });
  fill(view, form);
  token.focus();
}
