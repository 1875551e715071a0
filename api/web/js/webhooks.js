// Webhooks: the endpoints Almanac POSTs the user's events to, signed as Standard Webhooks
// says. Adding one shows its secret once (copy it then); an endpoint can be paused,
// resumed, sent a test, given a new secret (the old one still signs for a day) or deleted;
// its deliveries show each attempt, and one that ended can be sent again.

import { api } from "./api.js";
import { h, field, check, fill, toast, when, showProblem, clearProblems, fieldError, confirmAction } from "./ui.js";
import { t } from "./i18n.js";

// The event types an endpoint can subscribe to, as the API names them.
const EVENTS = [
  "job.succeeded", "job.failed", "calendar.run.finished", "organic.week.finished",
  "publish.intent.published", "publish.intent.failed", "publish.intent.unconfirmed",
  "channel.needs_reauth", "channel.expiring", "synthesis.delivered", "webhook.disabled",
];

/** The catalog key of an event type's label (`job.succeeded` -> `webhooks.event.job_succeeded`). */
function eventKey(event) {
  return `webhooks.event.${event.replaceAll(".", "_")}`;
}

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

function newEndpoint(secret, refresh) {
  const url = h("input", { name: "url", type: "url", required: true, placeholder: "https://", autocomplete: "off" });
  const description = h("input", { name: "description", maxlength: 500 });
  const boxes = EVENTS.map((event) => check(t(eventKey(event)), { name: "events", value: event, checked: event.startsWith("job.") }));
  const events = h("fieldset", { class: "choices" }, h("legend", {}, t("webhooks.events")), boxes);
  const problem = h("div");
  const form = h("form", { class: "panel stack", id: "webhook-form" },
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
function showSecret(holder, webhook, heading) {
  const value = h("input", { readonly: true, value: webhook.secret, id: "webhook-secret-value", class: "secret-value", spellcheck: "false" });
  const copy = h("button", {
    type: "button", class: "secondary", id: "copy-secret",
    onclick: async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(webhook.secret);
        toast(t("webhooks.copied"));
      } catch {
        toast(t("webhooks.copyByHand"));
      }
    },
  }, t("webhooks.copy"));
  holder.dataset.webhook = webhook.id;
  fill(holder, h("section", { class: "notice ok stack", role: "status" },
    h("strong", {}, heading),
    h("p", {}, t("webhooks.secretOnce", { url: webhook.url })),
    h("div", { class: "row secret-row" }, field(t("webhooks.secret"), value), copy),
    h("button", { type: "button", class: "link", id: "secret-done", onclick: () => fill(holder) }, t("webhooks.secretDone"))));
  value.focus();
  value.select();
}

function render(list, secret, webhooks, refresh) {
  if (!webhooks.items.length) return fill(list, h("li", { class: "muted" }, t("webhooks.none")));
  fill(list, webhooks.items.map((webhook) => endpoint(webhook, secret, refresh)));
}

function endpoint(webhook, secret, refresh) {
  const paused = Boolean(webhook.disabledAt);
  const act = (action) => async () => {
    try {
      await action();
      await refresh();
    } catch (error) {
      showProblem(error);
    }
  };
  const toggle = h("button", {
    type: "button", class: "secondary toggle-webhook",
    onclick: act(() => api("PATCH", `/v1/webhooks/${webhook.id}`, { enabled: paused })),
  }, paused ? t("webhooks.resume") : t("webhooks.pause"));
  const rotate = h("button", {
    type: "button", class: "secondary rotate-webhook",
    onclick: act(async () => {
      const ok = await confirmAction({ title: t("webhooks.rotateTitle"), body: t("webhooks.rotateBody"), confirm: t("webhooks.rotate") });
      if (!ok) return;
      const rotated = await api("POST", `/v1/webhooks/${webhook.id}/rotate-secret`);
      showSecret(secret, rotated, t("webhooks.secretRotated"));
    }),
  }, t("webhooks.rotate"));
  const remove = h("button", {
    type: "button", class: "danger delete-webhook",
    onclick: act(async () => {
      const ok = await confirmAction({ title: t("webhooks.deleteTitle"), body: t("webhooks.deleteBody", { url: webhook.url }), confirm: t("webhooks.delete") });
      if (!ok) return;
      await api("DELETE", `/v1/webhooks/${webhook.id}`);
      // A secret still shown for it is of no use now.
      if (secret.dataset.webhook === webhook.id) fill(secret);
    }),
  }, t("webhooks.delete"));
  const test = h("button", {
    type: "button", class: "secondary test-webhook", disabled: paused,
    // The list stays as it is: the deliveries open below, following the test.
    onclick: async () => {
      try {
        await api("POST", `/v1/webhooks/${webhook.id}/test`);
        toast(t("webhooks.testSent"));
        if (deliveries.open) await loadDeliveries(webhook, log);
        else deliveries.open = true;
      } catch (error) {
        showProblem(error);
      }
    },
  }, t("webhooks.test"));
  const log = h("div", { class: "stack delivery-log" });
  const deliveries = h("details", { class: "deliveries" }, h("summary", {}, t("webhooks.deliveries")), log);
  deliveries.addEventListener("toggle", () => {
    if (deliveries.open) loadDeliveries(webhook, log).catch(showProblem);
  });
  return h("li", { class: "card stack webhook", dataset: { id: webhook.id } },
    h("div", { class: "row" },
      h("strong", { class: "webhook-url" }, webhook.url),
      paused
        ? h("span", { class: "badge warn" }, t("webhooks.paused"))
        : h("span", { class: "badge ok" }, t("webhooks.active"))),
    webhook.description ? h("p", {}, webhook.description) : null,
    paused ? h("p", { class: "muted" }, t("webhooks.pausedSince", { when: when(webhook.disabledAt) })) : null,
    paused && webhook.disabledReason && webhook.disabledReason !== "disabled by its owner"
      ? h("p", { class: "notice bad disabled-reason" }, t("webhooks.disabledBecause", { reason: webhook.disabledReason }))
      : null,
    h("p", { class: "muted" }, webhook.events.map((event) => t(eventKey(event))).join(" · ")),
    webhook.previousSecretUntil && new Date(webhook.previousSecretUntil) > new Date()
      ? h("p", { class: "muted" }, t("webhooks.oldSecretUntil", { when: when(webhook.previousSecretUntil) }))
      : null,
    h("div", { class: "row" }, toggle, test, rotate, remove),
    deliveries);
}

/** How often open deliveries are read again while one is still being sent. */
const REFRESH_MS = 1500;

/** The endpoint's latest deliveries, each with its attempts and, once it has ended, Redeliver;
 * read again while one is being sent and the list is open. */
async function loadDeliveries(webhook, log) {
  clearTimeout(log.refresh);
  const page = await api("GET", `/v1/webhooks/${webhook.id}/deliveries?limit=20`);
  if (!page.items.length) return fill(log, h("p", { class: "muted" }, t("webhooks.noDeliveries")));
  fill(log, h("ul", { class: "list" }, page.items.map((delivery) => deliveryItem(webhook, delivery, log))));
  if (page.items.some((d) => d.status === "pending")) {
    log.refresh = setTimeout(() => {
      if (log.isConnected && log.closest("details")?.open) loadDeliveries(webhook, log).catch(() => {});
    }, REFRESH_MS);
  }
}

const DELIVERY_BADGE = { pending: "", succeeded: "ok", failed: "bad" };

function deliveryItem(webhook, delivery, log) {
  const last = delivery.attempts.at(-1);
  const answer = last
    ? last.responseStatus != null
      ? t("webhooks.answered", { status: last.responseStatus, when: when(last.startedAt), ms: last.durationMs })
      : t("webhooks.noAnswer", { reason: last.errorMessage ?? last.errorCode ?? "", when: when(last.startedAt) })
    : t("webhooks.notTriedYet");
  const redeliver = delivery.status === "pending" ? null : h("button", {
    type: "button", class: "link redeliver",
    onclick: async () => {
      try {
        await api("POST", `/v1/webhooks/${webhook.id}/deliveries/${delivery.id}/redeliver`);
        toast(t("webhooks.redelivering"));
        await loadDeliveries(webhook, log);
      } catch (error) {
        showProblem(error);
      }
    },
  }, t("webhooks.redeliver"));
  const type = delivery.eventType === "webhook.test" ? t("webhooks.event.webhook_test") : t(eventKey(delivery.eventType));
  return h("li", { class: "delivery", dataset: { id: delivery.id, status: delivery.status } },
    h("div", { class: "row" },
      h("span", { class: `badge ${DELIVERY_BADGE[delivery.status]}` }, t(`webhooks.status.${delivery.status}`)),
      h("strong", {}, type),
      h("span", { class: "muted" }, when(delivery.occurredAt))),
    h("p", { class: "muted" }, t("webhooks.attempts", { count: delivery.attempts.length }), " · ", answer,
      delivery.nextAttemptAt ? ` · ${t("webhooks.nextAttempt", { when: when(delivery.nextAttemptAt) })}` : ""),
    redeliver);
}
