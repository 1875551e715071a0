// The calendar as people read one: a month or week grid with every day (an agenda list on
// phones), one compact chip per entry (platform mark and colour, time, title; a month's day
// shows three and "+N more", which opens the day's list), a channel
// filter, conflicts marked, and drag to reschedule (pointer events; the entry dialog's
// "Move…" does the same from the keyboard). Days and hours are laid out before entries
// arrive, so a streaming run fills them without moving anything.

import { h, fill, platformBadge } from "../ui.js";
import { channelLabel, colored } from "../platforms.js";
import { t, formatDay, formatTime, number, percent } from "../i18n.js";
import { markConflicts } from "./conflicts.js";
import { addDays, addMonths, hourOf, mondayOf, monthStart, toIso } from "./dates.js";
import { draggable } from "./drag.js";
import { thumbnail } from "../media.js";
import { reviewBadge } from "./review.js";

const NARROW = "(max-width: 699px)";
/** A month's day shows this many chips, then "+N more", which opens the day. */
const CELL_CHIPS = 3;

export class CalendarGrid {
  /**
   * `onOpen(key)` opens an entry; `onMove(key, date, time)` reschedules one (a promise: the
   * chip goes back where it was when it rejects); `actions()` gives the toolbar's own
   * buttons (the queue's).
   */
  constructor({ onOpen, onMove, actions = () => [] }) {
    this.onOpen = onOpen;
    this.onMove = onMove;
    this.actions = actions;
    this.entries = new Map();
    /** Published entries' numbers, by entry id (`GET /v1/analytics/posts`). */
    this.numbers = new Map();
    this.hidden = new Set();
    this.chosenView = null;
    this.range = { start: null, end: null, timezone: "UTC", channels: [], times: [] };
    this.anchor = null;
    this.toolbar = h("div", { class: "cal-toolbar", id: "calendar-toolbar" });
    this.body = h("div", { class: "cal-body", id: "grid" });
    this.el = h("section", { class: "calendar", "aria-label": t("calendar.gridLabel") }, this.toolbar, this.body);
    this.narrow = matchMedia(NARROW);
    this.narrow.addEventListener("change", () => { if (!this.chosenView) this.render(); });
  }

  get view() {
    return this.chosenView ?? (this.narrow.matches ? "agenda" : "month");
  }

  /** The calendar's request: its range, time zone, channels and times of day. */
  setRequest(request) {
    const constraints = request?.constraints ?? {};
    this.range = {
      start: request?.start?.slice(0, 10) ?? null,
      end: request?.end?.slice(0, 10) ?? null,
      timezone: constraints.timezone ?? "UTC",
      channels: request?.channels ?? [],
      times: constraints.timesOfDay ?? [],
    };
  }

  /** Every entry anew (a reload). */
  reset(entries) {
    this.entries = new Map(entries.map((e) => [e.key, e]));
    // A calendar opens on its first entry's month (else its first day's, else today's).
    const first = entries.map((e) => e.date).sort()[0];
    this.anchor ??= first ?? this.range.start ?? toIso(new Date());
    this.render();
  }

  /** Adds or replaces one entry, in place (a post's chip is drawn again with it). */
  upsert(entry) {
    const before = this.entries.get(entry.key);
    const merged = { ...before, ...entry };
    this.entries.set(entry.key, merged);
    if (merged.postId || before?.postId) return this.renderLater();
    this.remove(entry.key, false);
    this.place(merged);
    this.conflictsLater();
  }

  remove(key, forget = true) {
    const entry = this.entries.get(key);
    if (forget) this.entries.delete(key);
    if (entry?.postId) return this.renderLater();
    this.body.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
    if (forget) this.conflictsLater();
  }

  /** Everything drawn again once the current changes are in. */
  renderLater() {
    if (this.renderDue) return;
    this.renderDue = true;
    queueMicrotask(() => {
      this.renderDue = false;
      this.render();
    });
  }

  get(key) {
    return this.entries.get(key);
  }

  /** Moves an entry (a drag, or "Move…"): shown there at once, put back if `onMove` refuses. */
  async move(key, date, time) {
    const entry = this.entries.get(key);
    if (!entry || (date === entry.date && time === String(entry.time).slice(0, 5))) return;
    const before = { ...entry };
    this.upsert({ ...entry, date, time });
    try {
      await this.onMove(key, date, time);
    } catch {
      this.upsert(before);
    }
  }

  /** The channels entries are on, the request's first. */
  channels() {
    const all = new Set(this.range.channels);
    for (const e of this.entries.values()) all.add(e.channel);
    return [...all];
  }

  /** The first and last day of what is shown. */
  period() {
    if (this.view === "week") {
      const first = mondayOf(this.anchor);
      return { first, last: addDays(first, 6) };
    }
    const first = monthStart(this.anchor);
    return { first, last: addDays(addMonths(first, 1), -1) };
  }

  go(step) {
    this.anchor = this.view === "week" ? addDays(this.anchor, 7 * step) : addMonths(this.anchor, step);
    this.render();
  }

  /** Turns to the period holding `iso` (`YYYY-MM-DD`). */
  show(iso) {
    this.anchor = iso;
    this.render();
  }

  choose(view) {
    this.chosenView = view;
    this.render();
  }

  render() {
    if (!this.anchor) this.anchor = toIso(new Date());
    this.renderToolbar();
    const view = this.view;
    this.body.dataset.view = view;
    if (view === "week") this.renderWeek();
    else if (view === "agenda") this.renderAgenda();
    else this.renderMonth();
    for (const entry of this.sorted()) this.place(entry);
    markConflicts(this.entries, this.body);
    this.compact();
  }

  sorted() {
    return [...this.entries.values()].sort((a, b) => `${a.date}${a.time}${a.channel}`.localeCompare(`${b.date}${b.time}${b.channel}`));
  }

  renderToolbar() {
    const view = this.view;
    const { first } = this.period();
    const month = formatDay(first, { month: "long", year: "numeric" });
    const label = view === "week"
      ? t("calendar.weekOf", { day: formatDay(first, { day: "numeric", month: "long", year: "numeric" }) })
      : month.charAt(0).toUpperCase() + month.slice(1);
    const unit = view === "week" ? "week" : "month";
    const views = ["month", "week", "agenda"].map((v) => h("button", {
      type: "button", class: "secondary", id: `view-${v}`, "aria-pressed": String(v === view),
      onclick: () => this.choose(v),
    }, t(`calendar.view.${v}`)));
    const filters = this.channels().map((channel) => {
      const box = h("input", { type: "checkbox", id: `show-${channel}`, checked: !this.hidden.has(channel) });
      box.addEventListener("change", () => {
        if (box.checked) this.hidden.delete(channel); else this.hidden.add(channel);
        this.applyFilter();
      });
      return h("label", colored(channel, { class: "check chip-filter" }), box, platformBadge(channel));
    });
    fill(this.toolbar,
      h("div", { class: "row nav-period" },
        h("button", { type: "button", class: "secondary", id: "period-prev", "aria-label": t(`calendar.previous.${unit}`), onclick: () => this.go(-1) }, "‹"),
        h("div", { class: "period" },
          h("strong", { id: "period-label", "aria-live": "polite" }, label),
          h("span", { class: "muted tz", id: "calendar-tz" }, t("calendar.timesIn", { zone: this.range.timezone }))),
        h("button", { type: "button", class: "secondary", id: "period-next", "aria-label": t(`calendar.next.${unit}`), onclick: () => this.go(1) }, "›")),
      h("div", { class: "row views", role: "group", "aria-label": t("calendar.viewLabel") }, views),
      h("div", { class: "row grid-actions" }, this.actions()),
      filters.length ? h("fieldset", { class: "row filters", id: "channel-filter" }, h("legend", { class: "sr-only" }, t("calendar.showChannels")), filters) : null);
  }

  /** Days outside the calendar's range are shaded; days outside the month muted. */
  dayClasses(iso, month) {
    const classes = ["cell"];
    if (month && iso.slice(0, 7) !== month) classes.push("outside");
    if ((this.range.start && iso < this.range.start) || (this.range.end && iso > this.range.end)) classes.push("off");
    return classes.join(" ");
  }

  weekdayHeads() {
    const monday = "2027-03-01";
    return Array.from({ length: 7 }, (_, i) => h("div", { class: "head", "aria-hidden": "true" },
      formatDay(addDays(monday, i), { weekday: "short" })));
  }

  renderMonth() {
    const { first, last } = this.period();
    const month = first.slice(0, 7);
    const start = mondayOf(first);
    const end = addDays(mondayOf(last), 6);
    const cells = [];
    for (let iso = start; iso <= end; iso = addDays(iso, 1)) {
      const number = Number(iso.slice(8));
      cells.push(h("div", { class: this.dayClasses(iso, month), dataset: { date: iso, drop: "" } },
        h("span", { class: "num" }, number === 1 ? formatDay(iso, { day: "numeric", month: "short" }) : String(number)),
        h("div", { class: "chips", role: "list", "aria-label": formatDay(iso) })));
    }
    fill(this.body, h("div", { class: "month" }, this.weekdayHeads(), cells));
  }

  /** The hours the week shows: the working day, widened to every entry and planned time. */
  hours(first, last) {
    let low = 7;
    let high = 21;
    const hours = [...this.range.times.map(hourOf)];
    for (const e of this.entries.values()) if (e.date >= first && e.date <= last) hours.push(hourOf(e.time));
    for (const hour of hours.filter(Number.isFinite)) { low = Math.min(low, hour); high = Math.max(high, hour); }
    return Array.from({ length: high - low + 1 }, (_, i) => low + i);
  }

  renderWeek() {
    const { first, last } = this.period();
    const days = Array.from({ length: 7 }, (_, i) => addDays(first, i));
    const heads = [h("div", { class: "head" }), ...days.map((iso) => h("div", { class: "head" }, formatDay(iso, { weekday: "short", day: "numeric" })))];
    const rows = this.hours(first, last).flatMap((hour) => {
      const hh = String(hour).padStart(2, "0");
      return [
        h("div", { class: "hour" }, formatTime(`${hh}:00`)),
        ...days.map((iso) => h("div", { class: `${this.dayClasses(iso, null)} slot`, dataset: { date: iso, hour: hh, drop: "" } },
          h("div", { class: "chips", role: "list", "aria-label": `${formatDay(iso)} ${formatTime(`${hh}:00`)}` }))),
      ];
    });
    this.weekHours = new Set(this.hours(first, last));
    fill(this.body, h("div", { class: "week-grid" }, heads, rows));
  }

  renderAgenda() {
    fill(this.body, h("div", { class: "agenda", id: "agenda" }));
  }

  /** The list an entry's chip goes in, in the view shown (none: not in this period). */
  slotFor(entry) {
    const { first, last } = this.period();
    const view = this.view;
    if (view === "month") {
      return this.body.querySelector(`.cell[data-date="${entry.date}"] .chips`);
    }
    if (entry.date < first || entry.date > last) return null;
    if (view === "week") {
      if (!this.weekHours?.has(hourOf(entry.time))) {
        // An hour the week did not show: laid out again with it.
        this.render();
        return null;
      }
      return this.body.querySelector(`.cell[data-date="${entry.date}"][data-hour="${String(entry.time).slice(0, 2)}"] .chips`);
    }
    const agenda = this.body.querySelector(".agenda");
    let dayEl = agenda.querySelector(`[data-date="${entry.date}"]`);
    if (!dayEl) {
      dayEl = h("section", { class: "agenda-day", dataset: { date: entry.date, drop: "" } },
        h("h3", {}, formatDay(entry.date, { weekday: "long", day: "numeric", month: "long" })),
        h("div", { class: "chips", role: "list" }));
      const later = [...agenda.children].find((d) => d.dataset.date > entry.date);
      agenda.insertBefore(dayEl, later ?? null);
    }
    return dayEl.querySelector(".chips");
  }

  place(entry) {
    const list = this.slotFor(entry);
    if (!list) return;
    let chip;
    if (entry.postId) {
      // A post's entries at one time: one chip for them all, drawn with the first of them
      // (a change of any draws the whole grid again: `upsert`, `remove`).
      const time = String(entry.time).slice(0, 5);
      if (list.querySelector(`[data-post="${CSS.escape(entry.postId)}"][data-time="${time}"]`)) return;
      chip = this.postChip(this.together(entry));
      draggable(this, chip, entry.key);
    } else {
      chip = this.chip(entry);
    }
    const after = [...list.children].find((c) => c.dataset.order > chip.dataset.order);
    list.insertBefore(chip, after ?? null);
  }

  /** The entries of `entry`'s post on its day at its time, by channel. */
  together(entry) {
    const time = String(entry.time).slice(0, 5);
    return this.sorted().filter((e) => e.postId === entry.postId && e.date === entry.date && String(e.time).slice(0, 5) === time);
  }

  /** One chip for a post's entries at one time: each network's mark, the time, the title,
   * the review that most needs an eye (opened, it opens the post: `onOpen` of its first). */
  postChip(members) {
    const [first] = members;
    const time = String(first.time).slice(0, 5);
    const shown = members.filter((e) => !this.hidden.has(e.channel));
    const networks = members.map((e) => channelLabel(e.channel)).join(", ");
    const label = t("posts.chipLabel", { networks, day: formatDay(first.date), time: formatTime(time), title: first.title });
    const review = mostPressing(members.map((e) => e.review));
    const chip = h("button", {
      type: "button", role: "listitem", class: "entry chip post-chip",
      dataset: { key: first.key, post: first.postId, time, channel: first.channel,
        channels: members.map((e) => e.channel).join(" "), order: `${time} ${first.channel}` },
      "aria-label": [label, review ? t(`review.status.${review.status}`) : null].filter(Boolean).join(" · "),
      hidden: shown.length === 0,
    },
    h("span", { class: "post-marks" }, members.map((e) => h("span", colored(e.channel, { class: "post-mark", hidden: this.hidden.has(e.channel) }), platformBadge(e.channel)))),
    first.mediaIds?.length ? thumbnail(first.mediaIds[0], { class: "chip-thumb", alt: "" }) : null,
    h("span", { class: "time" }, formatTime(time)),
    h("span", { class: "title" }, first.title),
    reviewBadge(review, { short: true }));
    return chip;
  }

  chip(entry) {
    const chip = this.chipOf(entry);
    draggable(this, chip, entry.key);
    return chip;
  }

  /** An entry's chip: its platform's mark and colour, time and title. */
  chipOf(entry) {
    const time = String(entry.time).slice(0, 5);
    const label = t("calendar.entryLabel", { channel: channelLabel(entry.channel), day: formatDay(entry.date), time: formatTime(time), title: entry.title });
    const chip = h("button", colored(entry.channel, {
      type: "button", role: "listitem",
      class: `entry chip${entry.edited ? " edited" : ""}`,
      dataset: { key: entry.key, channel: entry.channel, order: `${time} ${entry.channel}` },
      "aria-label": [label, entry.edited ? t("calendar.edited") : null, reviewBadge(entry.review) ? t(`review.status.${entry.review.status}`) : null]
        .filter(Boolean).join(" · "),
      hidden: this.hidden.has(entry.channel),
    }),
    platformBadge(entry.channel),
    entry.mediaIds?.length ? thumbnail(entry.mediaIds[0], { class: "chip-thumb", alt: "" }) : null,
    h("span", { class: "time" }, formatTime(time)),
    h("span", { class: "title" }, entry.title),
    entry.edited ? h("span", { class: "edited-mark", title: t("calendar.edited"), "aria-hidden": "true" }, "✎") : null,
    reviewBadge(entry.review, { short: true }),
    this.stat(entry));
    return chip;
  }

  /** A published entry's likes and engagement rate, on its chip. */
  stat(entry) {
    const post = entry.id && this.numbers.get(entry.id);
    if (!post?.metrics) return null;
    const rate = post.engagementRate === null ? "" : ` · ${percent(post.engagementRate)}`;
    return h("span", { class: "chip-stat", title: t("analytics.chipStat") }, `♥ ${number(post.metrics.likes ?? 0)}${rate}`);
  }

  applyFilter() {
    for (const chip of this.body.querySelectorAll(".chip")) {
      const channels = (chip.dataset.channels ?? chip.dataset.channel).split(" ");
      chip.hidden = channels.every((channel) => this.hidden.has(channel));
      for (const mark of chip.querySelectorAll(".post-mark")) mark.hidden = this.hidden.has(mark.dataset.platform);
    }
    this.compact();
  }

  /**
   * Each month day shows its first chips of the channels shown and, past `CELL_CHIPS`, a
   * "+N more" button for the rest (which stay in the page, out of sight).
   */
  compact() {
    if (this.view !== "month") return;
    for (const cell of this.body.querySelectorAll(".month .cell")) {
      const shown = [...cell.querySelectorAll(".chips > .chip")].filter((chip) => !chip.hidden);
      shown.forEach((chip, i) => chip.classList.toggle("spill", i >= CELL_CHIPS));
      const extra = shown.length - CELL_CHIPS;
      let more = cell.querySelector(".more");
      if (extra <= 0) {
        more?.remove();
        continue;
      }
      more ??= cell.appendChild(h("button", {
        type: "button", class: "more", onclick: () => this.openDay(cell.dataset.date),
      }));
      more.textContent = t("calendar.more", { count: extra });
      more.setAttribute("aria-label", t("calendar.moreLabel", { count: extra, day: formatDay(cell.dataset.date) }));
    }
  }

  /** A month day's entries of the channels shown, all of them, in a dialog. */
  openDay(date) {
    const entries = this.sorted().filter((e) => e.date === date && !this.hidden.has(e.channel));
    const id = `day-${date}`;
    const close = h("button", { value: "close", class: "secondary", id: "day-close" }, t("common.close"));
    const posts = new Set();
    const list = h("div", { class: "chips day-list", role: "list" }, entries.map((entry) => {
      if (entry.postId) {
        const group = `${entry.postId} ${String(entry.time).slice(0, 5)}`;
        if (posts.has(group)) return null;
        posts.add(group);
        const chip = this.postChip(this.together(entry));
        chip.addEventListener("click", () => { dialog.close(); this.onOpen(entry.key); });
        return chip;
      }
      const chip = this.chipOf(entry);
      chip.addEventListener("click", () => { dialog.close(); this.onOpen(entry.key); });
      return chip;
    }));
    const dialog = h("dialog", { class: "day-dialog", id: "day-dialog", "aria-labelledby": id },
      h("form", { method: "dialog", class: "stack" },
        h("h2", { id }, formatDay(date, { weekday: "long", day: "numeric", month: "long" })),
        h("p", { class: "muted" }, t("calendar.timesIn", { zone: this.range.timezone })),
        list,
        h("div", { class: "row" }, close)));
    document.body.append(dialog);
    dialog.addEventListener("close", () => dialog.remove());
    dialog.showModal();
    list.querySelector(".chip")?.focus();
  }

  /** Once the current changes are in: conflicts marked again, and the days' chips counted. */
  conflictsLater() {
    if (this.conflictsDue) return;
    this.conflictsDue = true;
    queueMicrotask(() => {
      this.conflictsDue = false;
      markConflicts(this.entries, this.body);
      this.compact();
    });
  }
}

/** Of a post's entries' reviews, the one that most needs an eye (changes asked, then
 * waiting, expired, approved); null when none applies. */
function mostPressing(reviews) {
  const order = ["changes_requested", "expired", "in_review", "not_requested", "approved"];
  const applying = reviews.filter((review) => reviewBadge(review));
  applying.sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status));
  return applying[0] ?? null;
}
