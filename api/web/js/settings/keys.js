// API keys: made with a name, what they may do and when they stop working; the key is
// shown once (copy it then); each key says when it was last used and can be revoked.

import { api } from "../api.js";
import { h, field, check, fill, when, showProblem, clearProblems, fieldError, confirmAction, copyRow } from "../ui.js";
import { t } from "../i18n.js";

const SCOPES = ["read", "write", "publish"];
const EXPIRIES = [["never", 0], ["days30", 30], ["days90", 90], ["year", 365]];

/** The section: its form, the key just made and the list; `update()` reloads the list. */
export function apiKeys() {
  const list = h("ul", { class: "list stack", id: "api-keys" });
  const shown = h("div", { id: "api-key-shown" });
  const update = async () => render(list, shown, (await api("GET", "/v1/api-keys")).items, update);
  const element = h("section", { class: "stack", id: "api-keys-section" },
    h("h2", {}, t("apiKeys.title")),
    h("p", { class: "muted" }, t("apiKeys.intro")),
    shown,
    h("div", { class: "split" }, newKey(shown, update),
      h("section", { class: "panel stack" }, h("h3", {}, t("apiKeys.yours")), list)));
  return { element, update };
}

function newKey(shown, update) {
  const name = h("input", { name: "name", required: true, maxlength: 100, autocomplete: "off", placeholder: t("apiKeys.namePlaceholder") });
  const boxes = SCOPES.map((scope) => check(h("span", { class: "scope-choice" },
    h("strong", {}, t(`apiKeys.scope.${scope}`)), h("span", { class: "muted" }, t(`apiKeys.scopeHint.${scope}`))),
  { name: "scopes", value: scope, checked: scope === "read" }));
  const scopes = h("fieldset", { class: "choices" }, h("legend", {}, t("apiKeys.scopes")), boxes);
  const expiry = h("select", { name: "expiry" },
    EXPIRIES.map(([key, days]) => h("option", { value: String(days) }, t(`apiKeys.expiry.${key}`))));
  const problem = h("div");
  const form = h("form", { class: "panel stack", id: "api-key-form" },
    h("h3", {}, t("apiKeys.add")),
    field(t("apiKeys.name"), name), scopes, field(t("apiKeys.expires"), expiry),
    h("button", { type: "submit" }, t("apiKeys.create")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    fill(problem);
    const chosen = [...form.querySelectorAll("input[name=scopes]:checked")].map((box) => box.value);
    if (!chosen.length) return fieldError(scopes, t("apiKeys.chooseScope"));
    const days = Number(expiry.value);
    const expiresAt = days ? new Date(Date.now() + days * 86400000).toISOString() : undefined;
    try {
      const made = await api("POST", "/v1/api-keys", { name: name.value, scopes: chosen, expiresAt });
      name.value = "";
      showKey(shown, made);
      await update();
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { name, scopes, expiresAt: expiry } });
    }
  });
  return form;
}

/** The key, shown this once, with Copy; gone on "I have copied it" or a reload. */
function showKey(holder, made) {
  holder.dataset.key = made.id;
  fill(holder, h("section", { class: "notice ok stack", role: "status" },
    h("strong", {}, t("apiKeys.made", { name: made.name })),
    h("p", {}, t("apiKeys.once")),
    copyRow({ label: t("apiKeys.key"), value: made.key, id: "api-key-value", copyId: "copy-api-key", copied: t("apiKeys.copied") }),
    h("p", { class: "muted" }, t("apiKeys.howToUse")),
    h("button", { type: "button", class: "link", id: "api-key-done", onclick: () => fill(holder) }, t("apiKeys.done"))));
}

function render(list, shown, keys, update) {
  if (!keys.length) return fill(list, h("li", { class: "muted" }, t("apiKeys.none")));
  fill(list, keys.map((key) => keyItem(key, shown, update)));
}

/** When a key stops (or stopped) working, in words. */
function expiryText(expiresAt) {
  if (!expiresAt) return t("apiKeys.neverExpires");
  return new Date(expiresAt) <= new Date()
    ? t("apiKeys.expired", { when: when(expiresAt) })
    : t("apiKeys.expiresOn", { when: when(expiresAt) });
}

function keyItem(key, shown, update) {
  const expired = key.expiresAt && new Date(key.expiresAt) <= new Date();
  const revoke = h("button", {
    type: "button", class: "danger revoke-api-key",
    onclick: async () => {
      const sure = await confirmAction({ title: t("apiKeys.revokeTitle"), body: t("apiKeys.revokeBody", { name: key.name }), confirm: t("apiKeys.revoke") });
      if (!sure) return;
      try {
        await api("DELETE", `/v1/api-keys/${key.id}`);
        if (shown.dataset.key === key.id) fill(shown);
        await update();
      } catch (error) {
        showProblem(error);
      }
    },
  }, t("apiKeys.revoke"));
  return h("li", { class: "card stack api-key", dataset: { id: key.id } },
    h("div", { class: "row" },
      h("strong", { class: "api-key-name" }, key.name),
      h("code", { class: "api-key-prefix", title: t("apiKeys.prefixHint") }, `${key.prefix}…`),
      expired ? h("span", { class: "badge warn" }, t("apiKeys.expiredBadge")) : null),
    h("p", { class: "api-key-scopes" }, t("apiKeys.mayDo", { scopes: key.scopes.map((s) => t(`apiKeys.scope.${s}`)).join(" · ") })),
    h("p", { class: "muted api-key-used" },
      key.lastUsedAt ? t("apiKeys.lastUsed", { when: when(key.lastUsedAt) }) : t("apiKeys.neverUsed"),
      " · ", t("apiKeys.createdOn", { when: when(key.createdAt) }),
      " · ", expiryText(key.expiresAt)),
    h("div", { class: "row" }, revoke));
}
