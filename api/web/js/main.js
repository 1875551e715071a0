// The app's shell: sign-in, the section links, and a hash router (`#/calendar/<id>`), so a
// reload lands where the user was.

import { api, appConfig, session, account, workspaces } from "./api.js";
import { h, field, fill, showError, mayLeave } from "./ui.js";
import { t, start, lang, languages, choose, list, useZone, readerZone } from "./i18n.js";
import * as profile from "./profile.js";
import { loadChannels } from "./platforms.js";
import * as calendar from "./calendar/index.js";
import * as organic from "./organic/index.js";
import * as publishing from "./publishing/index.js";
import * as themes from "./themes/index.js";
import * as flashcards from "./flashcards/index.js";
import * as channels from "./channels.js";
import * as webhooks from "./webhooks/index.js";
import * as settings from "./settings/index.js";
import * as ops from "./ops/index.js";
import * as usage from "./usage.js";
import * as media from "./library.js";
import * as evergreen from "./evergreen.js";
import * as analytics from "./analytics.js";
import * as join from "./join.js";
import * as review from "./review.js";
import * as notifications from "./notifications.js";
import { watchRoles } from "./roles.js";

const sections = { calendar, organic, publishing, media, evergreen, review, notifications, themes, flashcards, channels, webhooks, analytics, usage, settings, profile, join };
const DEV_USER_KEY = "almanac.devUser";
const view = document.getElementById("view");
watchRoles(view);
let current = null;

async function signIn() {
  const config = await appConfig();
  const ways = config.signIn ?? { email: "none" };
  const byEmail = ways.email !== "none";
  const token = h("textarea", { id: "token", rows: 3, autocomplete: "off", spellcheck: "false" });
  const email = h("input", { id: "sign-in-email", type: "email", name: "email", required: true, autocomplete: "email", inputmode: "email" });
  const problem = h("div");
  const remembered = localStorage.getItem(DEV_USER_KEY);
  const signedIn = async () => {
    // A user id is not a secret: remembered so a developer can come back as the same user.
    if (config.devLogin && session.user) localStorage.setItem(DEV_USER_KEY, session.user);
    if (await loadAccount()) route();
  };
  const use = async (value) => {
    try {
      await session.open(value.trim());
      signedIn();
    } catch (error) {
      showError(error, problem);
    }
  };
  const devLogin = async (userId) => {
    try {
      await session.openDev(userId);
      signedIn();
    } catch (error) {
      showError(error, problem);
    }
  };
  const emailForm = h("form", {
    class: "panel stack", id: "sign-in-by-email",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await session.emailLink(email.value.trim(), lang());
        sent(email.value.trim());
      } catch (error) {
        showError(error, problem);
      }
    },
  },
    field(t("signin.email"), email),
    h("button", { type: "submit", id: "sign-in-send" }, t("signin.sendLink")));
  // After asking: where the link went (under `make run`, the outbox, opened from here).
  const sent = (address) => {
    const open = ways.devOutbox ? h("button", { type: "button", id: "open-outbox", onclick: () => openOutbox(address, open, problem) }, t("signin.openOutbox")) : null;
    emailForm.replaceChildren(
      h("h2", {}, t("signin.checkTitle")),
      h("p", { id: "sign-in-sent" }, t(ways.devOutbox ? "signin.sentOutbox" : "signin.sent", { email: address, minutes: ways.linkMinutes ?? 15 })),
      h("div", { class: "row" }, open,
        h("button", { type: "button", class: "secondary", id: "sign-in-other", onclick: () => signIn() }, t("signin.other"))));
  };
  const sso = ways.sso ? h("a", { class: "button secondary", id: "sign-in-sso", href: "/app/oidc/start" }, ways.sso) : null;
  const tokenForm = h("form", {
    class: "stack",
    onsubmit: (e) => { e.preventDefault(); use(token.value); },
  },
    field(t("signin.token"), token),
    h("p", { class: "muted" }, t("signin.tokenHint")),
    h("button", { type: "submit", id: "sign-in" }, t("signin.submit")));
  fill(view,
    h("section", { class: "sign-in-intro" },
      h("h1", {}, t("signin.title")),
      h("p", { class: "lead" }, t("signin.what"))),
    byEmail ? emailForm : h("p", { class: "notice warn", id: "no-email" }, t("signin.noEmail")),
    sso ? h("div", { class: "panel stack mt" }, h("p", { class: "muted" }, t("signin.ssoHint")), sso) : null,
    h("details", { class: "panel mt", id: "token-details", open: !byEmail },
      h("summary", {}, t("signin.tokenTitle")), tokenForm),
    config.devLogin ? h("div", { class: "panel stack mt" },
      h("p", { class: "muted" }, t("signin.devHint")),
      h("div", { class: "row" },
        h("button", { type: "button", id: "dev-login-new", onclick: () => devLogin(null) }, t("signin.devNew")),
        remembered ? h("button", {
          type: "button", id: "dev-login-remembered", class: "secondary",
          onclick: () => devLogin(remembered),
        }, t("signin.devAgain")) : null)) : null,
    problem);
}

/** Under `make run`: opens the sign-in email's link from the outbox, once the server has
 * written it (it is sent just after the answer). */
async function openOutbox(address, button, problem) {
  button.disabled = true;
  const url = `/app/dev-outbox?email=${encodeURIComponent(address)}`;
  for (let tries = 0; tries < 20; tries += 1) {
    const response = await fetch(url, { redirect: "manual", credentials: "same-origin" });
    if (response.type === "opaqueredirect" || response.status === 303) {
      location.assign(url);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250 * (tries + 1)));
  }
  button.disabled = false;
  showError(new Error(t("signin.outboxEmpty")), problem);
}

/** While answers come from the offline templates, says so above every view. */
async function offlineBanner() {
  const config = await appConfig();
  if (config.aiProvider !== "offline" || document.getElementById("offline-banner")) return;
  document.querySelector("header.top").after(h("p", { id: "offline-banner", class: "notice warn banner", role: "note" },
    t("app.offline")));
}

/** With PLATFORM_SANDBOX, a badge beside the brand: the platforms (the registry's, as the
 * configuration lists them) are Almanac's fakes. */
async function sandboxBadge() {
  const config = await appConfig();
  if (!config.sandbox || document.getElementById("sandbox-badge")) return;
  const platforms = list((config.platforms ?? []).map((platform) => platform.label));
  document.querySelector("header.top .brand").after(h("span", {
    id: "sandbox-badge", class: "badge warn", title: t("app.sandboxHint", { platforms }),
  }, t("app.sandbox")));
}

/** Almanac did not answer whether the browser is signed in: say so, and retry on demand. */
function unreachable() {
  document.getElementById("nav").hidden = true;
  const retry = h("button", { type: "button", id: "retry", onclick: () => { retry.disabled = true; boot(); } }, t("app.retry"));
  fill(view, h("section", { class: "panel stack", id: "unreachable", role: "alert" },
    h("h1", {}, t("app.unreachableTitle")), h("p", {}, t("app.unreachable")), h("div", { class: "row" }, retry)));
}

/** Asks the server whose session this is, then shows the page the address names. */
function boot() {
  return session.load().then(async (user) => {
    if (user && !(await loadAccount())) return;
    route();
  }, unreachable);
}

// The address the page shows: a change of address that the person takes back (unsaved
// work) puts this one back.
let shown = location.href;

// Each route's number: a view's late failure is said only while its route is the last.
let routes = 0;

function route() {
  routes += 1;
  accountMenu();
  workspaceSwitcher();
  notifications.bell();
  current?.leave?.();
  current = null;
  shown = location.href;
  const nav = document.getElementById("nav");
  const [name = "calendar", ...rest] = location.hash.replace(/^#\/?/, "").split("?")[0].split("/");
  if (name === "ops") {
    // The operator console signs in with the admin token, whoever the browser's user is.
    nav.hidden = true;
    current = ops;
    fill(view);
    showing(ops, rest);
    return;
  }
  if (!session.user) {
    nav.hidden = true;
    return signIn();
  }
  nav.hidden = false;
  offlineBanner();
  const section = sections[name] ?? calendar;
  for (const link of nav.querySelectorAll("a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${name}`);
    if (link.hasAttribute("aria-current")) {
      link.setAttribute("aria-current", "page");
      // A phone's sections scroll sideways: the current one in view.
      if (nav.scrollWidth > nav.clientWidth) nav.scrollLeft = Math.max(0, link.offsetLeft - nav.offsetLeft - 24);
    }
  }
  fill(view);
  current = section;
  showing(section, rest);
}

/** Shows `section`; its failure is said in the view while its route is the last (a request
 * answered after the person signed out or moved on says nothing over the page now there). */
function showing(section, rest) {
  const mine = routes;
  Promise.resolve(section.show(view, rest.map(decodeURIComponent))).catch((error) => {
    if (mine === routes) showError(error, view);
  });
}

window.addEventListener("almanac:account", () => accountMenu());
// Another workspace chosen (or this one left): its lists, from a section's first page.
window.addEventListener("almanac:workspace", () => {
  const [name = "calendar"] = location.hash.replace(/^#\/?/, "").split("?")[0].split("/");
  const section = name === "join" ? "calendar" : name;
  if (location.hash !== `#/${section}`) location.hash = `#/${section}`;
  else route();
});
window.addEventListener("almanac:signed-out", () => {
  session.user = null;
  account.me = null;
  route();
});
window.addEventListener("hashchange", async () => {
  if (await mayLeave(current?.unsaved)) return route();
  history.pushState(null, "", shown);
});
// Reloading or closing the tab with unsaved work: the browser asks.
window.addEventListener("beforeunload", (event) => {
  if (current?.unsaved?.()) event.preventDefault();
});

/** The language switch in the header while signed out: the browser's language until one
 * is picked. Signed in, the account menu holds it. */
function languageSwitch() {
  const picker = h("select", { id: "language", "aria-label": t("app.language") },
    languages().map(([code, name]) => h("option", { value: code, selected: code === lang(), lang: code }, name)));
  picker.addEventListener("change", () => choose(picker.value));
  document.querySelector("header.top").append(picker);
}

/** The signed-in person's menu in the header: their name, then profile, language, time
 * zone and sign out. */
function accountMenu() {
  const header = document.querySelector("header.top");
  document.getElementById("account-menu")?.remove();
  const picker = document.getElementById("language");
  if (!session.user) {
    if (picker) picker.hidden = false;
    return;
  }
  if (picker) picker.hidden = true;
  const me = account.me ?? {};
  const who = me.name || me.email || t("account.you");
  const chooseLanguage = async (code) => {
    try {
      account.set(await api("PATCH", "/v1/me", { language: code }));
    } catch (error) {
      console.error(error);
    }
    choose(code);
  };
  const menu = h("details", { class: "account-menu", id: "account-menu" },
    h("summary", { id: "account-menu-button", "aria-label": t("account.menu", { name: who }) },
      h("span", { class: "avatar", "aria-hidden": "true" }, who.slice(0, 1).toUpperCase()),
      h("span", { class: "menu-name" }, who)),
    h("div", { class: "menu-items", role: "menu" },
      me.email ? h("p", { class: "muted small menu-email" }, me.email) : null,
      h("a", { href: "#/profile", role: "menuitem", id: "menu-profile" }, t("account.profile")),
      h("div", { class: "menu-group", role: "group", "aria-label": t("app.language") },
        languages().map(([code, name]) => h("button", {
          type: "button", class: "link", role: "menuitemradio", lang: code, id: `menu-language-${code}`,
          "aria-checked": String(code === lang()), onclick: () => chooseLanguage(code),
        }, name))),
      h("a", { href: "#/profile", role: "menuitem", id: "menu-timezone" },
        t("account.timezone", { zone: (me.displayTimezone ?? readerZone()).replaceAll("_", " ") })),
      h("button", { type: "button", class: "link", role: "menuitem", id: "sign-out", onclick: signOut }, t("nav.signOut"))));
  // A choice made (a link followed) closes the menu.
  menu.addEventListener("click", (event) => { if (event.target.closest("a")) menu.open = false; });
  header.append(menu);
}

/** The workspace switcher in the header, once the person belongs to more than their
 * personal workspace; a viewer sees why nothing can be changed. */
function workspaceSwitcher() {
  const header = document.querySelector("header.top");
  document.getElementById("workspace-switcher")?.remove();
  document.getElementById("viewer-note")?.remove();
  if (!session.user || workspaces.list.length < 2) return;
  const name = (w) => (w.personal ? t("workspaces.personal") : w.name);
  const picker = h("select", { id: "workspace-switcher", "aria-label": t("workspaces.switch") },
    workspaces.list.map((w) => h("option", { value: w.id, selected: w.id === workspaces.current?.id }, name(w))));
  picker.addEventListener("change", async () => {
    if (await mayLeave(current?.unsaved)) workspaces.choose(picker.value);
    else picker.value = workspaces.current?.id;
  });
  const menu = header.querySelector("#account-menu");
  if (menu) menu.before(picker);
  else header.append(picker);
  if (workspaces.role() === "viewer") {
    header.after(h("p", { id: "viewer-note", class: "notice banner", role: "note" },
      t("workspaces.viewerNote", { workspace: name(workspaces.current) })));
  }
}

async function signOut() {
  await session.close();
  location.hash = "";
  route();
}

/** The time zone of the person's newest calendar (null without one). */
async function newestCalendarZone() {
  try {
    const { items } = await api("GET", "/v1/calendars?limit=1");
    return items[0]?.request?.constraints?.timezone ?? null;
  } catch {
    return null;
  }
}

/** The account's language and time zone, applied once signed in (the account follows the
 * person from browser to browser). */
async function loadAccount() {
  try {
    await workspaces.load();
  } catch (error) {
    console.error(error);
  }
  try {
    const me = await account.load();
    // One zone for every time shown: the account's, else that of the newest calendar.
    useZone(me.displayTimezone ?? await newestCalendarZone());
    if (me.language && me.language !== lang()) {
      choose(me.language);
      return false;
    }
  } catch (error) {
    console.error(error);
  }
  return true;
}

Promise.all([start(), loadChannels()])
  .catch((error) => console.error(error))
  .then(() => { languageSwitch(); sandboxBadge(); return boot(); });
