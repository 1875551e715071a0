// Adding entries to their channels' posting queues (`docs/queue.md`): from the grid's
// toolbar, a dialog lists the calendar's entries still to come; those ticked take, in
// order, the next free slots of their channels and move there. What each got (its new
// time) or why it was refused is said in the dialog, and the grid shows them moved.

import { api } from "../api.js";
import { h, toast, showError, platformBadge } from "../ui.js";
import { t, has, formatZoned } from "../i18n.js";
import { channelLabel, connectedChannels } from "../platforms.js";
import { postAs } from "../post-as.js";
import { reload } from "./page.js";

/** Queues `ids` (entries of the calendar shown), from their planned day (`notBefore`
 * `planned`) or the next free slot (`now`), then shows them moved; the answer. */
export async function queueEntries(state, ids, notBefore = "planned", channels = []) {
  const answer = await api("POST", "/v1/queue", { calendarId: state.id, entryIds: ids, notBefore, ...(channels.length ? { channels } : {}) });
  await reload(state);
  return answer;
}

/** The grid toolbar's "Add to queue…". */
export function queueButton(state) {
  return h("button", { type: "button", class: "secondary", id: "queue-open", "data-needs": "editor", onclick: () => queueDialog(state) }, t("queue.open"));
}

async function queueDialog(state) {
  const zone = state.grid.range.timezone;
  const now = Date.now();
  const upcoming = (state.detail?.entries ?? [])
    .filter((e) => new Date(e.scheduledAt).getTime() > now)
    .sort((a, b) => a.scheduledAt.localeCompare(b.scheduledAt));
  // Where a platform has several accounts (a LinkedIn member and their page), whom to post as.
  let connected = [];
  try {
    connected = await connectedChannels();
  } catch (error) {
    showError(error);
  }
  const accounts = postAs(connected, upcoming.map((e) => e.channel));
  const boxes = upcoming.map((e) => h("input", { type: "checkbox", name: "entry", value: e.id }));
  const add = h("button", { type: "submit", id: "queue-add", disabled: true }, t("queue.add", { count: 0 }));
  const result = h("div", { id: "queue-result", "aria-live": "polite" });
  const count = () => boxes.filter((b) => b.isConnected && b.checked).length;
  const recount = () => {
    add.disabled = count() === 0;
    add.textContent = t("queue.add", { count: count() });
  };
  boxes.forEach((b) => b.addEventListener("change", recount));
  const list = upcoming.length
    ? h("ul", { class: "list queue-pick", id: "queue-entries" }, upcoming.map((e, i) => h("li", { dataset: { entry: e.id } },
      h("label", { class: "row" }, boxes[i], platformBadge(e.channel),
        h("span", {}, e.title), h("span", { class: "muted" }, formatZoned(e.scheduledAt, zone))))))
    : h("p", { class: "muted" }, t("queue.nothing"));
  const close = h("button", { type: "button", class: "secondary", id: "queue-close" }, t("common.close"));
  const from = h("select", { id: "queue-not-before", name: "notBefore" },
    h("option", { value: "planned", selected: true }, t("queue.fromPlanned")),
    h("option", { value: "now" }, t("queue.fromNow")));
  const form = h("form", { method: "dialog", class: "stack" },
    h("h2", { id: "queue-title" }, t("queue.title")),
    h("p", { class: "muted" }, t("queue.explain")),
    list, upcoming.length ? h("label", {}, t("queue.from"), from) : null, ...(upcoming.length ? accounts.fields : []), result, h("div", { class: "row" }, add, close));
  const dialog = h("dialog", { id: "queue-dialog", "aria-labelledby": "queue-title" }, form);
  close.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ids = boxes.filter((b) => b.isConnected && b.checked).map((b) => b.value);
    if (!ids.length) return;
    add.disabled = true;
    try {
      const answer = await queueEntries(state, ids, from.value, accounts.chosen());
      showResult(result, answer, upcoming, zone);
      boxes.forEach((b) => { if (answer.queued.some((q) => q.entryId === b.value)) b.closest("li").remove(); });
      if (!boxes.some((b) => b.isConnected)) {
        list.remove();
        add.hidden = true;
      }
      // The grid turns to where the first went (its date as the server saved it).
      const first = state.detail.entries.find((e) => e.id === answer.queued[0]?.entryId);
      if (first) state.grid.show(first.date);
      toast(t("queue.queued", { count: answer.queued.length }));
    } catch (error) {
      showError(error);
    } finally {
      recount();
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  state.els.main.append(dialog);
  dialog.showModal();
}

/** Each entry's slot, or why it was not queued. */
function showResult(el, { queued, refused }, entries, zone) {
  const title = (id) => entries.find((e) => e.id === id)?.title ?? "";
  const channel = (id) => channelLabel(entries.find((e) => e.id === id)?.channel ?? "");
  el.replaceChildren(...[
    queued.length ? h("ul", { class: "list", id: "queue-placed" }, queued.map((q) => h("li", { dataset: { entry: q.entryId, publishAt: q.publishAt } },
      h("strong", {}, title(q.entryId)), " ", t("queue.placedAt", { when: formatZoned(q.publishAt, zone), channel: channel(q.entryId) })))) : null,
    refused.length ? h("ul", { class: "list", id: "queue-refused" }, refused.map((r) => h("li", { class: "notice bad", dataset: { entry: r.entryId, code: r.code } },
      h("strong", {}, title(r.entryId)), " ", refusal(r, channel(r.entryId))))) : null].filter(Boolean));
}

/** Why an entry was not queued, in this language where the app has words for it. */
function refusal({ code, message }, platform) {
  return has(`queue.refused.${code}`) ? t(`queue.refused.${code}`, { platform }) : message;
}

/**
 * The entry editor's "Add to queue": the saved entry takes its channel's next free slot.
 * `unsaved()` says the form holds changes, which are to be saved first.
 */
export function queueEntryButton(state, dialog, problem, unsaved) {
  return h("button", {
    type: "button", class: "secondary", id: "entry-queue", "data-needs": "editor",
    onclick: async () => {
      const entry = state.editing && state.grid.get(state.editing);
      if (!entry) return;
      if (unsaved()) {
        problem.replaceChildren(h("p", { class: "notice bad" }, t("queue.saveFirst")));
        return;
      }
      try {
        const { queued, refused } = await queueEntries(state, [entry.id]);
        if (refused.length) {
          problem.replaceChildren(h("p", { class: "notice bad", dataset: { code: refused[0].code } }, refusal(refused[0], channelLabel(entry.channel))));
          return;
        }
        const zone = state.grid.range.timezone;
        state.editorSnapshot = undefined;
        dialog().close("queued");
        toast(t("queue.entryQueued", { when: formatZoned(queued[0].publishAt, zone) }));
      } catch (error) {
        showError(error);
      }
    },
  }, t("queue.addOne"));
}
