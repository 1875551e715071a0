// An endpoint's deliveries: each with its attempts and, once it has ended, Redeliver.

import { api } from "../api.js";
import { h, fill, toast, when, showProblem } from "../ui.js";
import { t } from "../i18n.js";
import { eventKey } from "./form.js";

/** How often open deliveries are read again while one is still being sent. */
const REFRESH_MS = 1500;

/** The endpoint's latest deliveries, each with its attempts and, once it has ended, Redeliver;
 * read again while one is being sent and the list is open. */
export async function loadDeliveries(webhook, log) {
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
    type: "button", class: "link redeliver", "data-needs": "admin",
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
