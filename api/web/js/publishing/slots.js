// A channel's posting slots and queue (`docs/queue.md`): a week grid of the times its
// queue fills, in one time zone, edited and saved whole; below it, what the queue holds,
// in order, as post cards with what stands in a post's way (a platform quota): drag or
// move to swap two posts' times, take one out, pause and resume, pack and shuffle.

import { api } from "../api.js";
import { h, field, toast, showError, showProblem } from "../ui.js";
import { thumbnail, ensureMedia } from "../media.js";
import { t, readerZone, formatZoned } from "../i18n.js";
import { platformName } from "./common.js";
import { accountName } from "../platforms.js";
import { heatMap } from "../analytics.js";
import { quotaNote } from "../quota.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** The channel row's "Posting slots" button. */
export function slotsButton(channel) {
  return h("button", {
    type: "button", class: "link slots-open", dataset: { channelId: channel.id },
    onclick: () => slotsDialog(channel).catch(showError),
  }, t("slots.open"));
}

async function slotsDialog(channel) {
  const kept = await api("GET", `/v1/channels/${channel.id}/slots`);
  const slots = new Map(DAYS.map((d) => [d, new Set()]));
  for (const s of kept.slots) slots.get(s.weekday).add(s.time);
  const zone = h("input", { name: "timezone", list: "slot-zones", required: true, value: kept.slots.length ? kept.timezone : readerZone() });
  const zones = h("datalist", { id: "slot-zones" }, (Intl.supportedValuesOf?.("timeZone") ?? []).map((z) => h("option", { value: z })));
  const grid = h("div", { class: "slot-week", id: "slot-week" });
  const time = h("input", { type: "time", name: "slotTime", value: "09:00", id: "slot-time" });
  // The picked time added to `days`.
  const addTo = (days) => {
    if (!time.value) return;
    days.forEach((d) => slots.get(d).add(time.value.slice(0, 5)));
    drawWeek();
  };
  const drawWeek = () => grid.replaceChildren(...DAYS.map((d) => h("div", { class: "slot-day", dataset: { day: d } },
    h("button", { type: "button", class: "slot-day-name secondary", title: t("slots.addTo", { day: t(`slots.day.${d}`) }),
      onclick: () => addTo([d]) }, t(`slots.day.${d}`)),
    [...slots.get(d)].sort().map((at) => h("button", {
      type: "button", class: "slot", dataset: { time: at }, "aria-label": t("slots.remove", { day: t(`slots.day.${d}`), time: at }),
      onclick: () => { slots.get(d).delete(at); drawWeek(); },
    }, at, h("span", { "aria-hidden": "true" }, " ×"))))));
  drawWeek();
  const everyDay = h("button", { type: "button", class: "secondary", id: "slot-every-day",
    onclick: () => addTo(DAYS) }, t("slots.everyDay"));
  const weekdays = h("button", { type: "button", class: "secondary", id: "slot-weekdays",
    onclick: () => addTo(DAYS.slice(0, 5)) }, t("slots.weekdays"));
  // A channel without slots starts from its best times (its own, or its platform's).
  const suggested = kept.suggested?.length ? h("button", {
    type: "button", class: "secondary", id: "slot-suggested", title: t("slots.suggestedHint"),
    onclick: () => { kept.suggested.forEach((s) => slots.get(s.weekday).add(s.time)); drawWeek(); },
  }, t("slots.suggested")) : null;
  const problem = h("div");
  const queue = h("section", { class: "stack", id: "channel-queue" });
  const best = h("details", { class: "stack", id: "channel-best" }, h("summary", {}, t("analytics.best")));
  api("GET", `/v1/channels/${channel.id}/best-times`).then((times) => best.append(heatMap(times)), () => best.remove());
  const save = h("button", { type: "submit", id: "slots-save" }, t("slots.save"));
  const close = h("button", { type: "button", class: "secondary", id: "slots-close" }, t("common.close"));
  // Setting the slots is an admin's (reading them and the queue below is anyone's).
  for (const held of [zone, time, grid, save, everyDay, weekdays, suggested]) held?.setAttribute("data-needs", "admin");
  const form = h("form", { class: "stack" },
    h("h2", { id: "slots-title" }, t("slots.title", { platform: platformName(channel.platform), account: accountName(channel) })),
    h("p", { class: "muted" }, t("slots.explain")),
    field(t("slots.timezone"), zone), zones,
    h("div", { class: "row slot-add" }, field(t("slots.time"), time), h("p", { class: "hint" }, t("slots.addHint")), everyDay, weekdays, suggested),
    grid, best, problem, h("div", { class: "row" }, save, close), queue);
  const dialog = h("dialog", { id: "slots-dialog", "aria-labelledby": "slots-title" }, form);
  close.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    const body = { timezone: zone.value.trim(), slots: DAYS.flatMap((d) => [...slots.get(d)].sort().map((at) => ({ weekday: d, time: at }))) };
    try {
      await api("PUT", `/v1/channels/${channel.id}/slots`, body);
      toast(t("slots.saved", { count: body.slots.length }));
      await drawQueue(queue, channel, zone.value.trim());
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { timezone: zone } });
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  await drawQueue(queue, channel, zone.value.trim());
}

/** A queued post's review, where one was asked for. */
const reviewBadge = (status) => (status && status !== "not_requested"
  ? h("span", { class: `badge review-${status}`, dataset: { review: status } }, t(`slots.review.${status}`)) : null);

/**
 * What the channel's queue holds, in order, as post cards (picture, time, title, text,
 * review): dragged onto another, or moved up and down, two posts swap their times; a post
 * is taken out; the queue is paused and resumed, packed from now, or shuffled.
 */
async function drawQueue(el, channel, zone) {
  const { items, pausedChannelIds = [] } = await api("GET", `/v1/queue?channelId=${encodeURIComponent(channel.id)}`);
  await ensureMedia(items.flatMap((item) => item.mediaIds.slice(0, 1))).catch(() => {});
  const paused = pausedChannelIds.includes(channel.id);
  const act = (path, body, said) => async () => {
    try {
      const answer = await api("POST", path, { channelId: channel.id, ...body });
      toast(answer.dryRun ? t("slots.dryRun") : said);
      await drawQueue(el, channel, zone);
    } catch (error) { showError(error); }
  };
  const swap = (a, b) => act("/v1/queue/swap", { entryIds: [a, b] }, t("slots.swapped"))();
  const button = (id, label, onclick, extra = {}) =>
    h("button", { type: "button", class: "secondary", id, "data-needs": "editor", onclick, ...extra }, label);
  const tools = h("div", { class: "row queue-tools" },
    paused
      ? button("queue-resume", t("slots.resume"), act("/v1/queue/resume", {}, t("slots.resumed")))
      : button("queue-pause", t("slots.pause"), act("/v1/queue/pause", {}, t("slots.pausedSaid"))),
    button("queue-pack", t("slots.pack"), act("/v1/queue/pack", {}, t("slots.packed")), { disabled: !items.length, title: t("slots.packHint") }),
    button("queue-shuffle", t("slots.shuffle"), act("/v1/queue/shuffle", {}, t("slots.shuffled")), { disabled: items.length < 2, title: t("slots.shuffleHint") }));
  const card = (item, i) => {
    const li = h("li", { class: "queue-card", draggable: "true", dataset: { entry: item.entryId, publishAt: item.publishAt } },
      item.mediaIds.length ? thumbnail(item.mediaIds[0], { class: "queue-thumb" }) : h("span", { class: "thumb queue-thumb text", "aria-hidden": "true" }, "Aa"),
      h("div", { class: "queue-body" },
        h("div", { class: "row queue-when" }, h("strong", {}, formatZoned(item.publishAt, zone)),
          item.evergreenId ? h("span", { class: "badge" }, t("slots.evergreen")) : null, reviewBadge(item.reviewStatus)),
        h("div", { class: "queue-title" }, item.title),
        item.caption ? h("div", { class: "muted queue-text" }, item.caption) : null,
        item.problem ? h("div", { class: "notice warn queue-problem", dataset: { code: item.problem.code } }, item.problem.message,
          item.problem.freesAt ? ` (${t("slots.freesAt", { when: formatZoned(item.problem.freesAt, zone) })})` : "") : null),
      h("div", { class: "queue-moves", "data-needs": "editor" },
        h("button", { type: "button", class: "link queue-up", disabled: i === 0, "aria-label": t("slots.moveUp", { title: item.title }),
          onclick: () => swap(item.entryId, items[i - 1].entryId) }, "↑"),
        h("button", { type: "button", class: "link queue-down", disabled: i === items.length - 1, "aria-label": t("slots.moveDown", { title: item.title }),
          onclick: () => swap(item.entryId, items[i + 1].entryId) }, "↓"),
        h("button", { type: "button", class: "link queue-remove", "aria-label": t("slots.takeOut", { title: item.title }),
          onclick: act("/v1/queue/remove", { entryIds: [item.entryId] }, t("slots.takenOut")) }, t("slots.takeOutShort"))));
    li.addEventListener("dragstart", (event) => event.dataTransfer.setData("text/x-almanac-entry", item.entryId));
    li.addEventListener("dragover", (event) => event.preventDefault());
    li.addEventListener("drop", (event) => {
      event.preventDefault();
      const from = event.dataTransfer.getData("text/x-almanac-entry");
      if (from && from !== item.entryId) swap(from, item.entryId);
    });
    return li;
  };
  el.replaceChildren(h("h3", {}, t("slots.queueTitle", { count: items.length })),
    quotaNote(channel, { id: "queue-quota" }),
    paused ? h("p", { class: "notice warn", id: "queue-paused" }, t("slots.paused")) : null,
    tools,
    items.length ? h("ol", { class: "queue-cards", id: "queue-items" }, items.map(card))
      : h("p", { class: "muted" }, t("slots.queueEmpty")),
    h("p", { class: "hint" }, t("slots.dragHint")));
}
