// What a calendar's runs say of themselves: whether one proposed changes rather than
// filling the calendar, and how many slots a regeneration's proposal holds.

/** Whether `run` regenerates the calendar: a regeneration, or the continuation of one
 * (which may still fill an empty calendar directly: `proposes` tells, once it has ended). */
export const regenerates = (run) => Boolean(run.proposalRunId) || (run.version > 1 && !run.continues);

/** Whether an ended `run` proposed changes rather than filling the calendar: a
 * regeneration (of a calendar that had entries), or the continuation of one. */
export const proposes = (run) => regenerates(run) && (Boolean(run.proposalRunId) || run.diff != null);

/** How many slots a regeneration's proposal holds: what its own run and each continuation
 * of it wrote. */
export function proposalWritten(runs, latest) {
  const root = latest.proposalRunId ?? latest.id;
  return runs.filter((r) => r.id === root || r.proposalRunId === root).reduce((sum, r) => sum + r.entries, 0);
}
