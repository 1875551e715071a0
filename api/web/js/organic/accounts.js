// A brand's linked accounts: each one, whether this week's request uses it, which connected
// channel it is (found by its id or by its handle, and said which), Unlink, and a form to
// link another.

import { api } from "../api.js";
import { h, field, check, showError, showProblem, confirmAction } from "../ui.js";
import { accountName, channelLabel, connectedAs, organicPlatforms } from "../platforms.js";
import { t } from "../i18n.js";
import { select } from "./common.js";

/** The accounts part of the week's first panel (its nodes). */
export function accountsView(board) {
  const { state, brand, accounts } = board;
  const accountProblem = h("div");
  const platformOptions = organicPlatforms().map((p) => [p, channelLabel(p)]);
  const newAccount = { platform: select("platform", platformOptions, organicPlatforms()[0]), accountId: h("input", { name: "accountId", required: true }) };
  const accountForm = h("form", { class: "row", id: "account-form", "data-needs": "editor" },
    field(t("organic.platform"), newAccount.platform), field(t("organic.accountId"), newAccount.accountId), h("button", {}, t("organic.linkAccount")), accountProblem);
  accountForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts`, {
        platform: newAccount.platform.value, accountId: newAccount.accountId.value.trim(),
      });
      await state.refresh();
    } catch (error) {
      showProblem(error, { root: accountForm, problem: accountProblem, fields: newAccount });
    }
  });
  const useAccount = accounts.map((a) => check(`${channelLabel(a.platform)} · ${a.accountId}`, { name: "use-account", value: `${a.platform}|${a.accountId}`, checked: true }));
  const unlink = (a) => h("button", {
    type: "button", class: "link", "aria-label": t("organic.unlinkLabel", { account: a.accountId }),
    onclick: async () => {
      const sure = await confirmAction({ title: t("confirm.unlink", { account: a.accountId }), body: t("confirm.unlinkBody"), confirm: t("organic.unlink") });
      if (!sure) return;
      try { await api("DELETE", `/api/organic/brands/${encodeURIComponent(brand.id)}/accounts/${encodeURIComponent(a.accountId)}`); await state.refresh(); } catch (e) { showError(e); }
    },
  }, t("organic.unlink"));
  return [
    h("h3", {}, t("organic.linkedAccounts")),
    h("p", { class: "muted" }, t("organic.accountsHint")),
    accounts.length ? null : h("p", { class: "muted" }, t("organic.noLinked")),
    // One list: each account, whether this week uses it, and Unlink.
    h("ul", { class: "list", id: "linked-accounts" }, accounts.map((a, i) => h("li", { class: "row", dataset: { account: a.accountId } },
      useAccount[i], connection(a), unlink(a)))),
    accountForm,
  ];
}

/** The channels connected now, read once a view of the accounts asks. */
let channelsRead = null;

/** Which connected channel a linked account is, filled in once the channels are read. */
function connection(account) {
  const el = h("span", { class: "account-connection muted", "aria-live": "polite" });
  channelsRead ??= api("GET", "/v1/channels").then((list) => list.items, () => { channelsRead = null; return []; });
  channelsRead.then((channels) => {
    const found = connectedAs(account, channels);
    el.dataset.match = found?.by ?? "none";
    el.textContent = found
      ? t(found.by === "id" ? "organic.connectedById" : "organic.connectedByHandle", { name: accountName(found.channel) })
      : t("organic.notConnected");
  });
  return el;
}

/** Forgets the channels read (the page was left, or an account was linked). */
export function forgetChannels() {
  channelsRead = null;
}

/** The accounts the week's request uses, as `[platform, accountId]` pairs. */
export function chosenAccounts(root) {
  return [...root.querySelectorAll("input[name=use-account]:checked")].map((b) => b.value.split("|"));
}
