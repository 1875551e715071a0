// A new endpoint: its address, what it is for and the events it gets; its secret is shown
// once, with a copy button.

import { api } from "../api.js";
import { h, field, check, fill, showProblem, clearProblems, fieldError, copyRow } from "../ui.js";
import { t } from "../i18n.js";

// The event types an endpoint can subscribe to, as the API names them.
export const EVENTS = [
  "job.succeeded", "job.failed", "calendar.run.finished", "organic.week.finished",
  "publish.intent.published", "publish.intent.failed", "publish.intent.unconfirmed",
  "channel.needs_reauth", "channel.expiring", "synthesis.delivered", "webhook.disabled",
];

/** The catalog key of an event type's label (`job.succeeded` -> `webhooks.event.job_succeeded`). */
export function eventKey(event) {
  return `webhooks.event.${event.replaceAll(".", "_")}`;
}

export function newEndpoint(secret, refresh) {
  const url = h("input", { name: "url", type: "url", required: true, placeholder: "https://", autocomplete: "off" });
  const description = h("input", { name: "description", maxlength: 500 });
  const boxes = EVENTS.map((event) => check(t(eventKey(event)), { name: "events", value: event, checked: event.startsWith("job.") }));
  const events = h("fieldset", { class: "choices" }, h("legend", {}, t("webhooks.events")), boxes);
  const problem = h("div");
  const form = h("form", { class: "panel stack", id: "webhook-form", "data-needs": "admin" },
    h("h2", {}, t("webhooks.add")),
    field(t("webhooks.url"), url), field(t("webhooks.description"), description), events,
    h("button", { type: "submit" }, t("webhooks.create")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=events]:checked")].map((box) => box.value);
    clearProblems(form);
    if (!chosen.length) {
      fieldError(events, t("webhooks.chooseEvent"));
      return;
    }
    try {
      const made = await api("POST", "/v1/webhooks", { url: url.value, events: chosen, description: description.value || undefined });
      // The events stay as chosen, for the next endpoint.
      url.value = "";
      description.value = "";
      clearProblems(form);
      fill(problem);
      showSecret(secret, made, t("webhooks.secretNew"));
      await refresh();
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { url, events, description } });
    }
  });
  return form;
}

/** The secret, shown this once, with a copy button; gone on "Done" or a reload. */
export function showSecret(holder, webhook, heading) {
  holder.dataset.webhook = webhook.id;
  fill(holder, h("section", { class: "notice ok stack", role: "status" },
    h("strong", {}, heading),
    h("p", {}, t("webhooks.secretOnce", { url: webhook.url })),
    copyRow({ label: t("webhooks.secret"), value: webhook.secret, id: "webhook-secret-value", copyId: "copy-secret", copied: t("webhooks.copied") }),
    h("button", { type: "button", class: "link", id: "secret-done", onclick: () => fill(holder) }, t("webhooks.secretDone"))));
}
