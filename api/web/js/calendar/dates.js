// Days as the calendar grid counts them: ISO dates (`YYYY-MM-DD`) in the calendar's own
// zone, weeks from Monday, and an entry's minute for comparing two posts.

export const DAY = 86400e3;

export const toDate = (iso) => new Date(`${iso}T00:00:00Z`);
export const toIso = (date) => date.toISOString().slice(0, 10);
export const addDays = (iso, n) => toIso(new Date(toDate(iso).getTime() + n * DAY));
/** Monday-first weekday, 0..6. */
export const weekday = (iso) => (toDate(iso).getUTCDay() + 6) % 7;
export const mondayOf = (iso) => addDays(iso, -weekday(iso));
export const monthStart = (iso) => `${iso.slice(0, 7)}-01`;
export const addMonths = (iso, n) => {
  const d = toDate(monthStart(iso));
  d.setUTCMonth(d.getUTCMonth() + n);
  return toIso(d);
};
export const hourOf = (time) => Number(String(time).slice(0, 2));
export const minutesOf = (entry) => toDate(entry.date).getTime() / 60e3 + hourOf(entry.time) * 60 + Number(String(entry.time).slice(3, 5));

/** The wall clock of instant `iso` in `zone`: `{date: "YYYY-MM-DD", time: "HH:MM"}`. */
export function inZone(iso, zone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

/** The instant (ISO, UTC) when the clocks of `zone` show `date` at `time` (`HH:MM`). */
export function toUtc(date, time, zone) {
  const wanted = Date.parse(`${date}T${time}:00Z`);
  let guess = wanted;
  // The zone's offset at the guess, applied twice: right on either side of a change.
  for (let i = 0; i < 2; i++) {
    const shown = inZone(new Date(guess).toISOString(), zone);
    guess += wanted - Date.parse(`${shown.date}T${shown.time}:00Z`);
  }
  return new Date(guess).toISOString();
}
