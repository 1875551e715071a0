// The caller's accounts: connected with OAuth or a token, connected again before they
// expire, disconnected; and, once connected again, what a refused login failed on retried.

import { api } from "../api.js";
import { h, field, fill, toast, when, showError, showProblem, confirmAction, platformBadge } from "../ui.js";
import { t } from "../i18n.js";
import { authorKind, connectPlatform, platformList, platformName, publishesTo } from "./common.js";
import { accountName, connectedAs } from "../platforms.js";
import { quotaNote } from "../quota.js";
import { slotsButton } from "./slots.js";

export async function renderChannels(el) {
  const { items: all } = await api("GET", "/v1/channels");
  // An account typed on the organic page (by its handle) that is a connected channel is
  // that channel: one row, the connected one.
  const items = all.filter((c) => c.status === "connected" || !connectedAs(c, all));
  const platform = h("select", { name: "platform" }, platformList().map((p) => h("option", { value: p.name }, platformName(p.name))));
  const account = h("input", { name: "accountId", required: true });
  const token = h("input", { name: "accessToken", type: "password", required: true, autocomplete: "off" });
  const refresh = h("input", { name: "refreshToken", type: "password", autocomplete: "off" });
  const expires = h("input", { name: "expiresIn", type: "number", min: 1, value: 86400 });
  const problem = h("div");
  const form = h("form", { class: "stack", id: "connect-form", "data-needs": "admin" }, h("h3", {}, t("publishing.tokenTitle")),
    field(t("publishing.platform"), platform), field(t("publishing.accountId"), account), field(t("publishing.accessToken"), token),
    field(t("publishing.refreshToken"), refresh), field(t("publishing.expiresIn"), expires),
    h("button", { id: "connect" }, t("publishing.connect")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = { platform: platform.value, accountId: account.value.trim(), accessToken: token.value };
      if (refresh.value) body.refreshToken = refresh.value;
      if (expires.value) body.expiresIn = Number(expires.value);
      await api("POST", "/v1/channels", body);
      toast(t("publishing.connectedToast", { platform: platformName(platform.value) }));
      await renderChannels(el);
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { platform, accountId: account, accessToken: token, refreshToken: refresh, expiresIn: expires } });
    }
  });
  const oauthProblem = h("div");
  const startOauth = (name) => connectPlatform(name, oauthProblem, () => renderChannels(el));
  const oauth = h("div", { class: "stack", id: "connect-oauth" },
    h("div", { class: "row" }, platformList().map((p) =>
      h("button", { type: "button", id: `connect-${p.name}`, "data-needs": "admin", onclick: () => startOauth(p.name) }, t("publishing.connectWith", { platform: platformName(p.name) })))),
    oauthProblem);
  // One idea of an account: the accounts linked on the organic page are the same ones.
  // Without credentials an account is "not connected", with a Connect action; only a
  // connected one can be disconnected.
  const actions = (c) => {
    if (c.status === "connected") {
      return h("div", { class: "row" }, slotsButton(c), retryFailed(c), c.reconnectBy && publishesTo(c.platform)
        ? h("button", { type: "button", class: "link connect-account", "data-needs": "admin", onclick: () => startOauth(c.platform) }, t("publishing.connectAgain"))
        : null, h("button", {
        type: "button", class: "link", "data-needs": "admin", "aria-label": t("publishing.disconnectLabel", { platform: platformName(c.platform) }),
        onclick: async () => {
          const sure = await confirmAction({ title: t("confirm.disconnect", { platform: platformName(c.platform), account: accountName(c) }), body: t("confirm.disconnectBody"), confirm: t("publishing.disconnect") });
          if (!sure) return;
          try { await api("DELETE", `/v1/channels/${c.id}`); await renderChannels(el); } catch (e) { showError(e); }
        },
      }, t("publishing.disconnect")));
    }
    if (!publishesTo(c.platform)) return h("div", { class: "muted" }, t("errors.code.UNSUPPORTED_CHANNEL", { platform: platformName(c.platform) }));
    return h("button", { type: "button", class: "link connect-account", "data-needs": "admin", onclick: () => startOauth(c.platform) },
      c.status === "needs_reauth" ? t("publishing.connectAgain") : t("publishing.connect"));
  };
  fill(el, h("h2", {}, t("accounts.title")),
    h("p", { class: "muted" }, t("accounts.explain")),
    items.length ? h("ul", { class: "list", id: "accounts" }, items.map((c) => h("li", { dataset: { channel: c.platform, status: c.status } },
      platformBadge(c.platform), " ", h("strong", { class: "account-name", title: c.accountId }, accountName(c)), " ",
      authorKind(c) ? h("span", { class: "muted author-kind" }, `${authorKind(c)} `) : null,
      h("span", { class: `badge ${c.status === "connected" ? "ok" : c.status === "needs_reauth" ? "bad" : ""}` }, t(`channelStatus.${c.status}`)),
      c.statusReason ? h("div", { class: "muted" }, c.statusReason) : null,
      // Connected before Almanac asked for the permission comments need.
      c.firstCommentProblem && c.status === "connected"
        ? h("div", { class: "notice warn first-comment-problem" }, t("publishing.commentsNeedReconnect", { platform: platformName(c.platform) }), " ",
          publishesTo(c.platform) ? h("button", { type: "button", class: "link connect-account", "data-needs": "admin", onclick: () => startOauth(c.platform) }, t("publishing.connectAgain")) : null)
        : null,
      c.reconnectBy && c.status === "connected" ? h("span", { class: "badge warn reconnect-by" }, t("publishing.reconnectBy", { when: when(c.reconnectBy) })) : null,
      c.expiresAt && c.status === "connected" ? h("div", { class: "muted" }, t("publishing.tokenExpires", { when: when(c.expiresAt) })) : null,
      c.status === "connected" && publishesTo(c.platform) ? quotaNote(c) : null,
      actions(c)))) : h("p", { class: "muted" }, t("publishing.noChannel")),
    oauth, form);
}

/** Retries, once each, what a refused login failed on a channel connected again. */
function retryFailed(c) {
  return h("button", {
    type: "button", class: "link retry-failed", "data-needs": "editor",
    onclick: async () => {
      try {
        const { retried, skipped } = await api("POST", `/v1/channels/${c.id}/retry-failed`);
        const unsure = skipped.filter((s) => s.reason === "NOT_CONFIRMED").length;
        toast(retried.length
          ? t("publishing.retriedFailed", { count: retried.length })
          : t("publishing.nothingToRetry"));
        if (unsure) toast(t("publishing.checkUnconfirmed", { count: unsure }));
      } catch (e) { showError(e); }
    },
  }, t("publishing.retryFailed"));
}
