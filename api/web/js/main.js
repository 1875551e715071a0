// The app's shell: sign-in, the section links, and a hash router (`#/calendar/<id>`), so a
// reload lands where the user was.

import { api, appConfig, session } from "./api.js";
import { h, field, fill, showError, mayLeave } from "./ui.js";
import { t, start, lang, languages, choose, list } from "./i18n.js";
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
import * as analytics from "./analytics.js";

const sections = { calendar, organic, publishing, themes, flashcards, channels, webhooks, analytics, usage, settings };
const DEV_USER_KEY = "almanac.devUser";
const view = document.getElementById("view");
let current = null;

async function signIn() {
  const config = await appConfig();
  const token = h("textarea", { id: "token", rows: 3, autocomplete: "off", spellcheck: "false" });
  const problem = h("div");
  const remembered = localStorage.getItem(DEV_USER_KEY);
  const signedIn = () => {
    // A user id is not a secret: remembered so a developer can come back as the same user.
    if (config.devLogin && session.user) localStorage.setItem(DEV_USER_KEY, session.user);
    route();
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
  fill(view,
    h("h1", {}, t("signin.title")),
    h("form", {
      class: "panel stack",
      onsubmit: (e) => { e.preventDefault(); use(token.value); },
    },
      field(t("signin.token"), token),
      h("p", { class: "muted" }, t("signin.tokenHint")),
      h("button", { type: "submit", id: "sign-in" }, t("signin.submit"))),
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
  return session.load().then(route, unreachable);
}

// The address the page shows: a change of address that the person takes back (unsaved
// work) puts this one back.
let shown = location.href;

// Each route's number: a view's late failure is said only while its route is the last.
let routes = 0;

function route() {
  routes += 1;
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

document.getElementById("sign-out").addEventListener("click", async () => {
  await session.close();
  location.hash = "";
  route();
});
window.addEventListener("almanac:signed-out", () => {
  session.user = null;
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

/** The language switch in the header: the browser's language until one is picked. */
function languageSwitch() {
  const picker = h("select", { id: "language", "aria-label": t("app.language") },
    languages().map(([code, name]) => h("option", { value: code, selected: code === lang(), lang: code }, name)));
  picker.addEventListener("change", () => choose(picker.value));
  document.querySelector("header.top").append(picker);
}

Promise.all([start(), loadChannels()])
  .catch((error) => console.error(error))
  .then(() => { languageSwitch(); sandboxBadge(); return boot(); });
