// One endpoint: its state (paused, and why), its events, and its actions: pause or resume,
// a test, a new secret, delete; its deliveries open below it.

import { api } from "../api.js";
import { h, fill, toast, when, showProblem, confirmAction } from "../ui.js";
import { t } from "../i18n.js";
import { loadDeliveries } from "./deliveries.js";
import { eventKey, showSecret } from "./form.js";

export function endpoint(webhook, secret, refresh) {
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
    type: "button", class: "secondary toggle-webhook", "data-needs": "admin",
    onclick: act(() => api("PATCH", `/v1/webhooks/${webhook.id}`, { enabled: paused })),
  }, paused ? t("webhooks.resume") : t("webhooks.pause"));
  const rotate = h("button", {
    type: "button", class: "secondary rotate-webhook", "data-needs": "admin",
    onclick: act(async () => {
      const ok = await confirmAction({ title: t("webhooks.rotateTitle"), body: t("webhooks.rotateBody"), confirm: t("webhooks.rotate") });
      if (!ok) return;
      const rotated = await api("POST", `/v1/webhooks/${webhook.id}/rotate-secret`);
      showSecret(secret, rotated, t("webhooks.secretRotated"));
    }),
  }, t("webhooks.rotate"));
  const remove = h("button", {
    type: "button", class: "danger delete-webhook", "data-needs": "admin",
    onclick: act(async () => {
      const ok = await confirmAction({ title: t("webhooks.deleteTitle"), body: t("webhooks.deleteBody", { url: webhook.url }), confirm: t("webhooks.delete") });
      if (!ok) return;
      await api("DELETE", `/v1/webhooks/${webhook.id}`);
      // A secret still shown for it is of no use now.
      if (secret.dataset.webhook === webhook.id) fill(secret);
    }),
  }, t("webhooks.delete"));
  const test = h("button", {
    type: "button", class: "secondary test-webhook", "data-needs": "admin", disabled: paused,
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
