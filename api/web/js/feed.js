// A calendar's live feed: the secret address a calendar application (Google Calendar,
// Apple Calendar, Outlook) subscribes to, showing the plan as it changes. The address is
// shown once, when it is made, with Copy; making a new one stops the old; revoking stops it.

import { api } from "./api.js";
import { h, fill, toast, when, showProblem, confirmAction, copyRow } from "./ui.js";
import { t } from "./i18n.js";

/** The "Subscribe" button of a calendar, opening the feed's dialog. */
export function feedButton(calendarId) {
  return h("button", {
    type: "button", class: "secondary", id: "feed-open",
    onclick: () => openFeed(calendarId).catch(showProblem),
  }, t("feed.open"));
}

async function openFeed(calendarId) {
  const body = h("div", { class: "stack", id: "feed" });
  const close = h("button", { type: "button", class: "secondary", id: "feed-close" }, t("common.close"));
  const dialog = h("dialog", { id: "feed-dialog", "aria-label": t("feed.title") },
    h("div", { class: "stack" }, h("h2", {}, t("feed.title")), h("p", { class: "muted" }, t("feed.intro")), body, close));
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  await render(calendarId, body, null);
}

/** What the calendar's feed is: none yet, one (since when), or one just made (its URL). */
async function render(calendarId, body, made) {
  let feed = made;
  if (!feed) {
    try {
      feed = await api("GET", `/v1/calendars/${calendarId}/feed`);
    } catch (error) {
      if (error?.status !== 404) throw error;
    }
  }
  const make = async () => {
    try {
      const fresh = await api("POST", `/v1/calendars/${calendarId}/feed`);
      await render(calendarId, body, fresh);
    } catch (error) {
      showProblem(error);
    }
  };
  if (!feed) {
    return fill(body, h("p", {}, t("feed.none")),
      h("button", { type: "button", id: "feed-make", "data-needs": "admin", onclick: make }, t("feed.make")));
  }
  const revoke = h("button", {
    type: "button", class: "danger", id: "feed-revoke", "data-needs": "admin",
    onclick: async () => {
      const sure = await confirmAction({ title: t("feed.revokeTitle"), body: t("feed.revokeBody"), confirm: t("feed.revoke") });
      if (!sure) return;
      try {
        await api("DELETE", `/v1/calendars/${calendarId}/feed`);
        toast(t("feed.revoked"));
        await render(calendarId, body, null);
      } catch (error) {
        showProblem(error);
      }
    },
  }, t("feed.revoke"));
  const remake = h("button", {
    type: "button", class: "secondary", id: "feed-remake", "data-needs": "admin",
    onclick: async () => {
      const sure = await confirmAction({ title: t("feed.remakeTitle"), body: t("feed.remakeBody"), confirm: t("feed.remake") });
      if (sure) await make();
    },
  }, t("feed.remake"));
  const address = feed.url ? shownOnce(feed.url) : h("p", { class: "muted" }, t("feed.exists", { when: when(feed.createdAt) }));
  fill(body, address, h("div", { class: "row" }, remake, revoke));
}

/** The address, this once, with Copy. */
function shownOnce(url) {
  return h("section", { class: "notice ok stack", role: "status" },
    h("strong", {}, t("feed.made")),
    h("p", {}, t("feed.once")),
    copyRow({ label: t("feed.address"), value: url, id: "feed-url", copyId: "feed-copy", copied: t("feed.copied") }));
}
