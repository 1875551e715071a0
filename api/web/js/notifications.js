// Notifications (`#/notifications`): mentions, reviews waiting for the person, decisions and
// expiries of reviews they asked for, guests' comments, from every workspace they belong
// to, newest first. The header's bell shows how many are unread.

import { api, session } from "./api.js";
import { who } from "./people.js";
import { h, fill, showError } from "./ui.js";
import { t, formatZoned } from "./i18n.js";

/** How often the bell asks again while the page stays open. */
const EVERY_MS = 60_000;
let timer = null;

/** The bell in the header with the unread count; kept fresh while signed in. */
export async function bell() {
  const header = document.querySelector("header.top");
  let link = document.getElementById("notifications-bell");
  if (!session.user) {
    link?.remove();
    clearInterval(timer);
    timer = null;
    return;
  }
  if (!link) {
    link = h("a", { href: "#/notifications", id: "notifications-bell", class: "bell" },
      bellIcon(), h("span", { class: "count", id: "notifications-count", hidden: true }));
  }
  // Just before the account menu, which each route draws again.
  const menu = header.querySelector("#account-menu");
  if (menu) menu.before(link);
  else header.append(link);
  if (!timer) timer = setInterval(() => refresh().catch(() => {}), EVERY_MS);
  await refresh().catch(() => {});
}

/** A bell, drawn (no font needed). */
function bellIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M12 3a6 6 0 0 0-6 6v4l-2 3h16l-2-3V9a6 6 0 0 0-6-6zm-2 15a2 2 0 0 0 4 0");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

/** Reads the unread count into the bell. */
async function refresh() {
  const link = document.getElementById("notifications-bell");
  if (!link || !session.user) return;
  const page = await api("GET", "/v1/notifications?unread=true&limit=1");
  counted(page.unread);
}

function counted(unread) {
  const link = document.getElementById("notifications-bell");
  if (!link) return;
  const count = link.querySelector(".count");
  count.textContent = unread > 99 ? "99+" : String(unread);
  count.hidden = unread === 0;
  link.setAttribute("aria-label", t("notifications.bell", { count: unread }));
  link.title = link.getAttribute("aria-label");
}

/** What a notification says. */
function line(n) {
  const by = n.guestName ? t("notifications.guest", { name: n.guestName }) : who(n.by);
  const title = n.title || t("notifications.untitled");
  return t(`notifications.kind.${n.kind}`, { who: by, title, step: n.stepName ?? "" });
}

export async function show(view) {
  const list = h("ol", { class: "notification-list", id: "notification-list" });
  const more = h("button", { type: "button", class: "secondary", id: "notifications-more", hidden: true }, t("notifications.more"));
  const readAll = h("button", { type: "button", class: "secondary", id: "notifications-read-all" }, t("notifications.readAll"));
  fill(view, h("section", { class: "panel stack", id: "notifications" },
    h("div", { class: "row spread" }, h("h1", {}, t("notifications.title")), readAll),
    h("p", { class: "muted" }, t("notifications.intro")), list, more));
  let cursor = null;
  const item = (n) => {
    const open = async (event) => {
      if (n.readAt) return;
      event.preventDefault();
      try {
        const result = await api("POST", "/v1/notifications/read", { ids: [n.id] });
        counted(result.unread);
      } catch (error) {
        console.error(error);
      }
      location.hash = event.currentTarget.getAttribute("href");
    };
    const target = n.calendarId ? `#/calendar/${n.calendarId}` : "#/review";
    return h("li", { class: `notification ${n.readAt ? "read" : "unread"}`, dataset: { kind: n.kind, id: n.id } },
      h("a", { href: target, onclick: open }, line(n)),
      n.comment ? h("blockquote", {}, n.comment) : null,
      h("span", { class: "muted small" }, formatZoned(n.createdAt)));
  };
  const page = async () => {
    const query = cursor ? `?cursor=${cursor}` : "";
    const result = await api("GET", `/v1/notifications${query}`);
    list.append(...result.items.map(item));
    if (!list.children.length) list.append(h("li", { class: "muted", id: "notifications-none" }, t("notifications.none")));
    cursor = result.nextCursor;
    more.hidden = !cursor;
    counted(result.unread);
  };
  more.addEventListener("click", () => page().catch((error) => showError(error)));
  readAll.addEventListener("click", async () => {
    try {
      const result = await api("POST", "/v1/notifications/read", {});
      counted(result.unread);
      for (const li of list.querySelectorAll(".notification.unread")) li.className = "notification read";
    } catch (error) {
      showError(error);
    }
  });
  await page();
}
