// An emailed sign-in link's page (`GET /app/sign-in/<token>`): its words in the person's
// language, and its button, whose POST (from this script, same origin) uses the link and
// opens the session. Fetching the page alone, as a mail scanner does, uses nothing.

import { start, t } from "./i18n.js";

// The refusals said in the person's words (the catalogue's `errors.code.*`).
const REFUSALS = new Set(["SIGN_IN_LINK_USED", "SIGN_IN_LINK_EXPIRED", "SIGN_IN_LINK_INVALID"]);

start().catch((error) => console.error(error)).then(() => {
  const form = document.getElementById("link-form");
  if (!form) return;
  const problem = document.getElementById("link-problem");
  const button = document.getElementById("link-sign-in");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    problem.hidden = true;
    try {
      const response = await fetch(form.dataset.path, {
        method: "POST",
        headers: { "X-Requested-With": "XMLHttpRequest" },
        credentials: "same-origin",
      });
      if (response.ok) {
        location.replace("/app/");
        return;
      }
      const body = await response.json().catch(() => ({}));
      const code = body?.error?.code;
      problem.textContent = REFUSALS.has(code) ? t(`errors.code.${code}`) : (body?.error?.message ?? `${response.status}`);
    } catch {
      problem.textContent = t("app.unreachable");
    }
    problem.hidden = false;
    button.disabled = false;
  });
});
