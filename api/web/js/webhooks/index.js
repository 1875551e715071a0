// Webhooks: the endpoints Almanac POSTs the user's events to, signed as Standard Webhooks
// says. Adding one shows its secret once (copy it then); an endpoint can be paused,
// resumed, sent a test, given a new secret (the old one still signs for a day) or deleted;
// its deliveries show each attempt, and one that ended can be sent again.

import { api } from "../api.js";
import { h, fill } from "../ui.js";
import { t } from "../i18n.js";
import { endpoint } from "./endpoint.js";
import { newEndpoint } from "./form.js";

export async function show(view) {
  const list = h("ul", { class: "list stack", id: "webhooks" });
  const secret = h("div", { id: "webhook-secret" });
  const refresh = async () => render(list, secret, await api("GET", "/v1/webhooks"), refresh);
  fill(view,
    h("h1", {}, t("webhooks.title")),
    h("p", { class: "muted" }, t("webhooks.intro")),
    secret,
    h("div", { class: "split" }, newEndpoint(secret, refresh), h("section", { class: "panel stack" }, h("h2", {}, t("webhooks.yours")), list)));
  await refresh();
}

function render(list, secret, webhooks, refresh) {
  if (!webhooks.items.length) return fill(list, h("li", { class: "muted" }, t("webhooks.none")));
  fill(list, webhooks.items.map((webhook) => endpoint(webhook, secret, refresh)));
}
