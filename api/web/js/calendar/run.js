// A run of a calendar followed as it goes: the grid fills entry by entry (a first run or a
// continuation), the progress bar moves, and its end is said in words; Continue starts the
// run that writes what a stopped one did not.

import { api, follow } from "../api.js";
import { explain, progressText, showError } from "../ui.js";
import { t } from "../i18n.js";
import { showDiff } from "./diff.js";
import { forget, isShown, lastEventKey, reload, remember } from "./page.js";
import { proposes } from "./runs.js";

/** Starts the run that writes what a stopped one did not (only the missing slots). */
export async function continueRun(state) {
  const latest = state.detail?.runs?.[0];
  if (!latest) return;
  state.els.resume.disabled = true;
  try {
    const { data, meta } = await api("POST", `/v1/calendars/${state.id}/runs/${latest.id}/continue`, undefined,
      { envelope: true, headers: { Prefer: "respond-async" } });
    state.els.resume.hidden = true;
    state.els.status.className = "";
    stream(state, { jobId: data.jobId, runId: data.runId, mode: meta.mode, regenerate: proposes(latest) });
  } catch (error) {
    showError(error);
  } finally {
    state.els.resume.disabled = false;
  }
}

/** Follows a run's events: the grid fills (first runs) and the progress bar moves. */
export function stream(state, run) {
  const { progress, status, cancel } = state.els;
  state.run = run;
  state.head.setMode(run.mode);
  remember(state.id, run);
  progress.hidden = false;
  cancel.hidden = false;
  cancel.disabled = false;
  status.textContent = run.regenerate ? t("calendar.regenerating") : t("common.generating");
  status.dataset.state = "running";
  const after = Number(sessionStorage.getItem(lastEventKey(run.jobId)) ?? 0);
  state.source = follow(run.jobId, {
    after,
    onId: (id) => sessionStorage.setItem(lastEventKey(run.jobId), String(id)),
    on: {
      progress: (event) => {
        if (event.total) { progress.max = event.total; progress.value = event.completed; }
        if (!run.regenerate) status.textContent = progressText(event);
      },
      entry: (event) => {
        state.head.setMode(event.meta?.mode);
        progress.max = event.meta?.total ?? progress.max;
        if (run.regenerate) {
          progress.value = Math.max(progress.value, (event.meta?.position ?? 0) + 1);
          // Proposals, shown as a diff when the run ends: meanwhile, how many are written.
          status.textContent = t("calendar.regeneratingCount", { done: progress.value, count: progress.max });
          return;
        }
        state.grid.upsert(event.data);
        progress.value = state.grid.entries.size;
        status.textContent = t("calendar.generatingCount", { done: state.grid.entries.size, count: progress.max });
      },
      done: (event) => finished(state, run, event),
    },
  });
}

async function finished(state, run, event) {
  const { progress, status, cancel } = state.els;
  sessionStorage.removeItem(lastEventKey(run.jobId));
  cancel.hidden = true;
  progress.hidden = true;
  status.dataset.state = event.status;
  if (!isShown(state)) return;
  await reload(state);
  const kept = state.grid.entries.size;
  const total = state.detail.runs[0]?.slots ?? kept;
  // A timeout is told in the run's own counts (a regeneration's are its proposal's).
  const counts = event.error?.details ?? { written: kept, slots: total, missing: Math.max(total - kept, 0) };
  const message = {
    succeeded: run.regenerate ? t("calendar.regenerated") : t("calendar.done", { count: kept }),
    cancelled: t("calendar.cancelled", { count: kept }),
    timeout: t(run.regenerate ? "calendar.timeoutProposal" : "calendar.timeout", { count: counts.written, total: counts.slots, missing: counts.missing }),
    failed: t("calendar.failed", { count: kept, reason: explain(event.error ?? {}) }),
  }[event.status] ?? t("calendar.finished", { status: t(`status.${event.status}`) });
  status.textContent = message;
  status.className = event.status === "succeeded" ? "" : `notice ${event.status === "failed" ? "bad" : "warn"}`;
  // A regeneration stays remembered (by `stream`) until its diff is accepted or dismissed.
  if (run.regenerate) await showDiff(state, run.runId);
  else forget(state.id);
}
