// A regeneration's proposal: its changes, conflicts with the user's edits marked, to accept
// some or all (what an accept would remove is named first), or to answer later.

import { api } from "../api.js";
import { h, fill, toast, showError, confirmAction } from "../ui.js";
import { t } from "../i18n.js";
import { forget, reload } from "./page.js";

/** The proposed changes of a regeneration; the user accepts some or all. */
export async function showDiff(state, runId) {
  const { diff } = state.els;
  let detail;
  try {
    detail = await api("GET", `/v1/calendars/${state.id}/runs/${runId}`);
  } catch (error) {
    return showError(error, diff);
  }
  const pending = detail.changes.filter((c) => !c.appliedAt);
  if (!pending.length) {
    forget(state.id);
    return fill(diff);
  }
  const label = (c) => (c.after ?? c.before ?? {}).title ?? t("calendar.untitledEntry");
  const rows = pending.map((c) => {
    const box = h("input", { type: "checkbox", value: c.id, checked: !c.conflict, "aria-label": t("calendar.acceptChange", { kind: t(`calendar.change.${c.kind}`), title: label(c) }) });
    return h("div", { class: `change${c.conflict ? " conflict" : ""}`, dataset: { kind: c.kind, key: c.key } },
      h("label", { class: "check" }, box,
        h("span", { class: `badge ${c.kind === "added" ? "ok" : c.kind === "removed" ? "bad" : ""}` }, t(`calendar.change.${c.kind}`)),
        " ", label(c)),
      c.conflict ? h("span", { class: "badge warn" }, t("calendar.conflict")) : null,
      h("div", { class: "muted" }, c.kind === "updated" ? `${c.before?.title} → ${c.after?.title}` : label(c)));
  });
  const counts = ["added", "updated", "removed"].map((k) => t(`calendar.count.${k}`, { count: pending.filter((c) => c.kind === k).length })).join(", ");
  const accept = async (body) => {
    // Entries an accept would remove are named before they go.
    const chosen = body.all ? pending.filter((c) => !c.conflict) : pending.filter((c) => body.changeIds.includes(c.id));
    const removed = chosen.filter((c) => c.kind === "removed").length;
    if (removed > 0) {
      const sure = await confirmAction({ title: t("confirm.acceptRemoves", { count: removed }), body: t("confirm.acceptRemovesBody"), confirm: t("confirm.acceptRemovesYes") });
      if (!sure) return;
    }
    try {
      const result = await api("POST", `/v1/calendars/${state.id}/runs/${runId}/accept`, body);
      toast(t("calendar.applied", { count: result.applied.length }));
      state.els.status.textContent = t("calendar.appliedNow", { count: result.applied.length, entries: result.entries });
      state.els.status.className = "";
      forget(state.id);
      fill(diff);
      await reload(state);
    } catch (error) {
      showError(error);
    }
  };
  fill(diff, h("section", { class: "panel stack", "aria-label": t("calendar.proposed") },
    h("h2", {}, t("calendar.proposedVersion", { version: detail.run.version })),
    h("p", { class: "muted" }, t("calendar.proposedHint", { counts })),
    h("div", { class: "row" },
      h("button", { type: "button", id: "accept-selected", onclick: () => accept({ changeIds: [...diff.querySelectorAll("input:checked")].map((b) => b.value) }) }, t("calendar.acceptSelected")),
      h("button", { type: "button", id: "accept-all", class: "secondary", onclick: () => accept({ all: true }) }, t("calendar.acceptAll")),
      h("button", { type: "button", class: "link", id: "diff-later", onclick: () => { forget(state.id); fill(diff); } }, t("calendar.later"))),
    h("div", { class: "scroll" }, rows)));
}
