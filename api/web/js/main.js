// The app's shell: sign-in, the section links, and a hash router (`#/calendar/<id>`), so a
// reload lands where the user was.

import { api, session } from "./api.js";
import { h, field, fill, showError } from "./ui.js";
import * as calendar from "./calendar.js";
import * as organic from "./organic.js";
import * as publishing from "./publishing.js";
import * as themes from "./themes.js";
import * as flashcards from "./flashcards.js";
import * as channels from "./channels.js";

const sections = { calendar, organic, publishing, themes, flashcards, channels };
const DEV_USER_KEY = "almanac.devUser";
const view = document.getElementById("view");
let current = null;

async function signIn() {
  const config = await fetch("/app/config.json").then((r) => r.json()).catch(() => ({}));
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
    h("h1", {}, "Sign in"),
    h("form", {
      class: "panel stack",
      onsubmit: (e) => { e.preventDefault(); use(token.value); },
    },
      field("Access token (a JWT for this API)", token),
      h("button", { type: "submit", id: "sign-in" }, "Sign in")),
    config.devLogin ? h("div", { class: "panel stack mt" },
      h("p", { class: "muted" }, "Development sign-in (DEV_LOGIN=true): a token for a test user."),
      h("div", { class: "row" },
        h("button", { type: "button", id: "dev-login-new", onclick: () => devLogin(null) }, "Sign in as a new user"),
        remembered ? h("button", {
          type: "button", id: "dev-login-remembered", class: "secondary",
          onclick: () => devLogin(remembered),
        }, `Sign in again as ${remembered.slice(0, 8)}…`) : null)) : null,
    problem);
}

/** While answers come from the offline templates, says so above every view. */
async function offlineBanner() {
  const config = await fetch("/app/config.json").then((r) => r.json()).catch(() => ({}));
  if (config.aiProvider !== "offline" || document.getElementById("offline-banner")) return;
  document.querySelector("header.top").after(h("p", { id: "offline-banner", class: "notice warn banner", role: "note" },
    "No AI model is connected: answers here are sample text from built-in templates."));
}

function route() {
  current?.leave?.();
  current = null;
  const nav = document.getElementById("nav");
  if (!session.user) {
    nav.hidden = true;
    return signIn();
  }
  nav.hidden = false;
  offlineBanner();
  const [name = "calendar", ...rest] = location.hash.replace(/^#\/?/, "").split("?")[0].split("/");
  const section = sections[name] ?? calendar;
  for (const link of nav.querySelectorAll("a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${name}`);
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
  fill(view);
  current = section;
  Promise.resolve(section.show(view, rest.map(decodeURIComponent))).catch((error) => showError(error, view));
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
window.addEventListener("hashchange", route);
session.load().catch(() => null).finally(route);
