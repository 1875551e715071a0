// A brand's linked accounts: each one, whether this week's request uses it, Unlink, and a
// form to link another.

import { api } from "../api.js";
import { h, field, check, showError, showProblem, confirmAction } from "../ui.js";
import { channelLabel, organicPlatforms } from "../platforms.js";
import { t } from "../i18n.js";
import { select } from "./common.js";

/** The accounts part of the week's first panel (its nodes). */
export function accountsView(board) {
  const { state, brand, accounts } = board;
  const accountProblem = h("div");
  const platformOptions = organicPlatforms().map((p) => [p, channelLabel(p)]);
  const newAccount = { platform: select("platform", platformOptions, organicPlatforms()[0]), accountId: h("input", { name: "accountId", required: true }) };
  const accountForm = h("form", { class: "row", id: "account-form" },
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
    h("ul", { class: "list", id: "linked-accounts" }, accounts.map((a, i) => h("li", { class: "row" }, useAccount[i], unlink(a)))),
    accountForm,
  ];
}

/** The accounts the week's request uses, as `[platform, accountId]` pairs. */
export function chosenAccounts(root) {
  return [...root.querySelectorAll("input[name=use-account]:checked")].map((b) => b.value.split("|"));
}
