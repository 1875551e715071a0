// The head of a calendar: its name (renamed in place), the fallback's badge, the run's
// progress and status, Cancel, Continue, Regenerate, the exports, the feed and the way to
// publishing. `update(detail)` shows the calendar as the server read it.

import { api, atVersion, download } from "../api.js";
import { feedButton } from "../feed.js";
import { reviewLinksButton } from "./links.js";
import { h, field, toast, showError, showProblem, guardUnsaved } from "../ui.js";
import { t } from "../i18n.js";
import { renderList } from "./list.js";
import { requestForm } from "./request.js";
import { continueRun } from "./run.js";
import { proposalWritten, proposes } from "./runs.js";
import { who } from "../people.js";

/** `reopen(id)` shows the calendar again (a regeneration started from its dialog). */
export function headView(state, reopen) {
  const { id } = state;
  const title = h("h2", { id: "calendar-title" }, t("calendar.untitled"));
  const mode = h("span", { class: "badge", id: "mode", hidden: true });
  const progress = h("progress", { id: "progress", max: 1, value: 0, hidden: true, "aria-label": t("common.generationProgress") });
  const status = h("p", { id: "run-status", role: "status", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "danger", id: "cancel", hidden: true, "data-needs": "editor" }, t("common.cancel"));
  const resume = h("button", { type: "button", id: "continue", hidden: true, "data-needs": "editor" }, t("calendar.continue"));
  const regenerate = h("button", { type: "button", class: "secondary", id: "regenerate", "data-needs": "editor" }, t("calendar.regenerateOpen"));
  // The others looking at the calendar now (`live.js`).
  const presence = h("ul", { class: "presence", id: "presence", hidden: true, "aria-label": t("live.lookingNow") });
  const heading = h("div", { class: "row title-row" }, title, renamer(state, title, () => heading), mode, presence);
  const exports = h("details", { class: "menu", id: "export-menu" },
    h("summary", { class: "button secondary" }, t("calendar.exportMenu")),
    h("div", { class: "menu-items" }, ["ics", "csv", "json"].map((format) => h("button", {
      type: "button", class: "secondary", id: `export-${format}`,
      onclick: () => download(`/v1/calendars/${id}/export?format=${format}`, `calendar.${format}`)
        .catch((e) => showError(e)),
    }, t("calendar.export", { format: format.toUpperCase() })))));
  const el = h("div", { class: "panel calendar-head" },
    h("div", { class: "row spread" }, heading,
      h("div", { class: "row actions" }, cancel, resume, regenerate, exports, feedButton(id), reviewLinksButton(state),
        h("a", { href: `#/publishing/${id}`, id: "to-publishing", class: "button" }, t("calendar.toPublishing")))),
    progress, status);
  regenerate.addEventListener("click", () => regenerateDialog(state, el.parentElement, reopen));
  cancel.addEventListener("click", async () => {
    if (!state.run?.jobId) return;
    cancel.disabled = true;
    try {
      await api("POST", `/v1/jobs/${state.run.jobId}/cancel`);
      status.textContent = t("calendar.cancelling");
    } catch (error) {
      showError(error);
      cancel.disabled = false;
    }
  });
  resume.addEventListener("click", () => continueRun(state));
  const setMode = (name) => {
    if (!name) return;
    // Only the fallback is worth a word: a calendar written without the AI service.
    mode.hidden = name === "service";
    mode.textContent = t("calendar.legacy");
    mode.className = "badge warn";
    mode.title = t("calendar.legacyHint");
  };
  return {
    el, els: { title, mode, progress, status, cancel, resume, presence }, setMode,
    update(detail) {
      title.textContent = detail.calendar.name || t("calendar.untitled");
      const latest = detail.runs[0];
      setMode(latest?.mode);
      // A first run or a continuation that stopped early: Continue writes the rest into
      // the calendar. A regeneration that reached the time limit, its proposal still
      // waiting: Continue writes the rest into that proposal.
      let missing = 0;
      if (latest && proposes(latest)) {
        const pending = detail.pendingRun?.runId === latest.id;
        missing = latest.status === "timeout" && pending ? latest.slots - proposalWritten(detail.runs, latest) : 0;
      } else if (latest && (latest.version === 1 || latest.continues) && ["timeout", "failed", "cancelled"].includes(latest.status)) {
        missing = latest.slots - detail.entries.length;
      }
      resume.hidden = !(missing > 0);
      resume.textContent = t("calendar.continueMissing", { count: Math.max(missing, 0) });
    },
  };
}

/** The name, changed in place: kept by every regeneration once set. Sent with the
 * calendar's version (`If-Match`): a teammate's change meanwhile that left the name as it
 * was is no conflict (sent again at their version); a rename meanwhile is shown, and saving
 * again keeps this one. */
function renamer(state, title, heading) {
  const { id } = state;
  const rename = h("button", { type: "button", class: "link", id: "rename", "data-needs": "editor" }, t("calendar.rename"));
  rename.addEventListener("click", () => {
    const seen = title.textContent;
    let version = state.detail?.calendar?.version;
    const input = h("input", { name: "calendarName", value: seen, maxlength: 200, required: true });
    const problem = h("p", { class: "notice warn", id: "rename-conflict", hidden: true });
    const form = h("form", { class: "row", id: "rename-form" }, field(t("calendar.name"), input),
      h("button", { type: "submit" }, t("common.save")),
      h("button", { type: "button", class: "secondary", onclick: () => form.replaceWith(heading()) }, t("common.cancel")),
      problem);
    const save = (name) => api("PATCH", `/v1/calendars/${id}`, { name }, atVersion(version));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        let saved;
        try {
          saved = await save(input.value);
        } catch (error) {
          if (error.code !== "EDIT_CONFLICT") throw error;
          const current = error.details?.current ?? {};
          version = current.version;
          if (current.name !== seen) {
            title.textContent = current.name;
            problem.textContent = t("live.renamedByOther", { who: who(error.details?.changedBy?.userId, error.details?.changedBy), name: current.name });
            problem.hidden = false;
            return;
          }
          saved = await save(input.value);
        }
        title.textContent = saved.name;
        if (state.detail) state.detail.calendar = { ...state.detail.calendar, ...saved };
        form.replaceWith(heading());
        toast(t("calendar.renamed"));
        renderList(document.getElementById("calendar-list"), id);
      } catch (error) {
        showProblem(error, { root: form, fields: { name: input } });
      }
    });
    heading().replaceWith(form);
    input.focus();
  });
  return rename;
}

/** The request form again, in a dialog, filled with the latest run's request. */
async function regenerateDialog(state, main, reopen) {
  const form = await requestForm(state.id, state.detail?.runs?.[0]?.request, reopen);
  const close = h("button", { type: "button", class: "secondary", id: "regenerate-close" }, t("common.close"));
  const dialog = h("dialog", { id: "regenerate-dialog", "aria-label": t("calendar.regenerate") }, form, close);
  main.append(dialog);
  // A changed request is not dropped by Esc or Close without asking.
  const values = () => JSON.stringify([...form.elements].map((e) => (e.type === "checkbox" ? e.checked : e.value)));
  const initial = values();
  guardUnsaved(dialog, () => values() !== initial, close);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
}
