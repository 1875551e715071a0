// The Evergreen page (`#/evergreen`, `docs/queue.md`): the workspace's evergreen
// collections (entries queued again on their channels whenever a channel's queue has
// nothing else, no sooner than the collection's gap), each with its channels, entries,
// gap and next repeat; made from a calendar's entries, paused and resumed, deleted.

import { api } from "./api.js";
import { h, fill, field, toast, showProblem, confirmAction, platformBadge } from "./ui.js";
import { t, formatZoned } from "./i18n.js";
import { accountName } from "./platforms.js";

export async function show(view) {
  const [{ items }, { items: channels }, { items: calendars }] = await Promise.all([
    api("GET", "/v1/evergreen"), api("GET", "/v1/channels"), api("GET", "/v1/calendars?limit=50")]);
  const list = h("ul", { class: "evergreen-list", id: "evergreen-list" });
  const render = (collections) => fill(list, collections.length
    ? collections.map((c) => collection(c, channels, () => reload()))
    : h("li", { class: "muted empty" }, t("evergreen.none")));
  const reload = async () => render((await api("GET", "/v1/evergreen")).items);
  render(items);
  fill(view, h("h1", {}, t("evergreen.title")), h("p", { class: "muted" }, t("evergreen.intro")),
    list, maker(channels, calendars, reload));
}

/** One collection: what it posts where, how often, its next repeat, and its actions. */
function collection(c, channels, reload) {
  const named = channels.filter((ch) => c.channelIds.includes(ch.id));
  const next = c.nextRepeat
    ? t("evergreen.next", { when: formatZoned(c.nextRepeat.publishAt) })
    : c.paused ? t("evergreen.pausedNext") : t("evergreen.noNext");
  const toggle = h("button", { type: "button", class: "secondary evergreen-toggle", "data-needs": "editor",
    onclick: async () => {
      try {
        await api("PATCH", `/v1/evergreen/${c.id}`, { paused: !c.paused });
        toast(c.paused ? t("evergreen.resumed") : t("evergreen.paused"));
        await reload();
      } catch (error) { showProblem(error); }
    } }, c.paused ? t("evergreen.resume") : t("evergreen.pause"));
  const remove = h("button", { type: "button", class: "danger evergreen-delete", "data-needs": "editor",
    onclick: async () => {
      const go = await confirmAction({ title: t("evergreen.deleteTitle", { name: c.name }), body: t("evergreen.deleteBody"), confirm: t("evergreen.delete") });
      if (!go) return;
      try {
        await api("DELETE", `/v1/evergreen/${c.id}`);
        toast(t("evergreen.deleted"));
        await reload();
      } catch (error) { showProblem(error); }
    } }, t("evergreen.delete"));
  return h("li", { class: "panel stack evergreen", dataset: { evergreen: c.id, paused: String(c.paused) } },
    h("div", { class: "row spread" }, h("h2", {}, c.name), c.paused ? h("span", { class: "badge warn" }, t("evergreen.pausedBadge")) : null),
    h("div", { class: "row" }, named.map((ch) => h("span", { class: "row evergreen-channel" }, platformBadge(ch.platform), accountName(ch)))),
    h("p", { class: "muted" }, t("evergreen.what", { count: c.entryIds.length, days: c.minGapDays }),
      c.variation === "ai" ? ` ${t("evergreen.rewritten")}` : ""),
    h("p", { class: "evergreen-next" }, next),
    h("div", { class: "row" }, toggle, remove));
}

/** The form making a collection from a calendar's entries, on chosen channels. */
function maker(channels, calendars, reload) {
  const name = h("input", { name: "name", required: true, maxlength: 200, id: "evergreen-name" });
  const gap = h("input", { name: "minGapDays", type: "number", min: 1, max: 365, value: 30, required: true, id: "evergreen-gap" });
  const variation = h("select", { name: "variation", id: "evergreen-variation" },
    h("option", { value: "none" }, t("evergreen.variation.none")), h("option", { value: "ai" }, t("evergreen.variation.ai")));
  const channelBoxes = channels.map((ch) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "channel", value: ch.id }), platformBadge(ch.platform), accountName(ch)));
  const calendar = h("select", { id: "evergreen-calendar", "aria-label": t("evergreen.calendar") },
    h("option", { value: "" }, t("evergreen.pickCalendar")), calendars.map((c) => h("option", { value: c.id }, c.name)));
  const entries = h("fieldset", { class: "stack", id: "evergreen-entries" }, h("legend", {}, t("evergreen.entries")),
    h("p", { class: "muted" }, t("evergreen.pickCalendarFirst")));
  calendar.addEventListener("change", async () => {
    if (!calendar.value) return;
    try {
      const detail = await api("GET", `/v1/calendars/${calendar.value}`);
      fill(entries, h("legend", {}, t("evergreen.entries")), detail.entries.length
        ? detail.entries.map((e) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "entry", value: e.id }), platformBadge(e.channel), e.title))
        : h("p", { class: "muted" }, t("evergreen.noEntries")));
    } catch (error) { showProblem(error); }
  });
  const problem = h("div");
  const form = h("form", { class: "panel stack", id: "evergreen-new", "data-needs": "editor" },
    h("h2", {}, t("evergreen.make")), field(t("evergreen.name"), name),
    h("fieldset", { class: "row" }, h("legend", {}, t("evergreen.channels")), channelBoxes.length ? channelBoxes : h("p", { class: "muted" }, t("evergreen.noChannels"))),
    field(t("evergreen.calendar"), calendar), entries,
    h("div", { class: "row" }, field(t("evergreen.gap"), gap), field(t("evergreen.variation.label"), variation)),
    problem, h("div", { class: "row" }, h("button", { type: "submit", id: "evergreen-create" }, t("evergreen.create"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = (selector) => [...form.querySelectorAll(selector)].filter((b) => b.checked).map((b) => b.value);
    const body = { name: name.value.trim(), channelIds: picked("input[name=channel]"), entryIds: picked("input[name=entry]"),
      minGapDays: Number(gap.value), variation: variation.value };
    try {
      await api("POST", "/v1/evergreen", body);
      toast(t("evergreen.made", { name: body.name }));
      form.reset();
      await reload();
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { name, minGapDays: gap } });
    }
  });
  return form;
}
