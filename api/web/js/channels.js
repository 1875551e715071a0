// Completing a channel's connection (`#/channels/connect?platform&code&state`): the
// platform sent the browser back through the API's callback, which only forwards what it
// carried here; the signed-in user posts it to `complete`, so the account is bound to
// whoever started connecting, never to whoever opened the link.

import { api, appConfig } from "./api.js";
import { h, fill, explain as sentence } from "./ui.js";
import { t } from "./i18n.js";
import { accountName } from "./platforms.js";

/** Platform names as people read them, from the server's registry. */
let labels = {};

/** What each refusal means to the person who followed the link. */
function explain(error, platform) {
  const name = labels[platform] ?? t("channels.thePlatform");
  switch (error?.code) {
    case "OAUTH_STATE_NOT_YOURS":
      return t("channels.notYours");
    case "OAUTH_STATE_INVALID":
      return t("channels.expired");
    case "OAUTH_DENIED":
      return t("channels.denied", { platform: name });
    case "OAUTH_EXCHANGE_FAILED":
      if (error.details?.platformCode === "NO_ACCOUNT") return t("channels.noAccount", { platform: name });
      return t("channels.incomplete", { platform: name });
    case "OAUTH_CODE_MISSING":
      return t("channels.incomplete", { platform: name });
    case "PLATFORM_UNAVAILABLE":
      return t("channels.unreachable", { platform: name });
    default:
      return sentence(error);
  }
}

export async function show(view, [step]) {
  labels = Object.fromEntries(((await appConfig()).platforms ?? []).map((p) => [p.name, p.label]));
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const platform = query.get("platform") ?? "";
  const back = h("a", { href: "#/publishing", class: "button" }, t("channels.back"));
  if (!step?.startsWith("connect") || !query.get("state")) {
    return fill(view, h("h1", {}, t("channels.title")), h("p", {}, t("channels.nothing")), back);
  }
  const status = h("p", { role: "status" }, t("channels.connecting", { platform: labels[platform] ?? "" }));
  fill(view, h("h1", {}, t("channels.connectTitle")), h("section", { class: "panel stack", id: "channel-connect" }, status, back));
  // The state is single-use: a reload must not post it again.
  history.replaceState(null, "", "#/channels/connect");
  const body = { state: query.get("state") };
  for (const [key, name] of [["code", "code"], ["error", "error"], ["error_description", "errorDescription"]]) {
    if (query.get(key)) body[name] = query.get(key);
  }
  try {
    const channel = await api("POST", `/v1/channels/${encodeURIComponent(platform)}/complete`, body);
    fill(status, t("channels.connected", { platform: labels[channel.platform] ?? channel.platform, account: accountName(channel) }));
    status.className = "notice ok";
    status.dataset.outcome = "connected";
    // One grant can act for more accounts (a LinkedIn member's company pages): each is a
    // channel of its own now, which the person may keep or disconnect.
    const also = channel.alsoConnected ?? [];
    if (also.length) {
      status.after(h("div", { class: "stack", id: "also-connected" },
        h("p", {}, t("channels.alsoConnected", { count: also.length })),
        h("ul", { class: "list" }, also.map((c) => h("li", { dataset: { account: c.accountId } }, accountName(c)))),
        h("p", { class: "muted" }, t("channels.alsoConnectedHint"))));
    }
  } catch (error) {
    fill(status, explain(error, platform));
    status.className = "notice bad";
    status.setAttribute("role", "alert");
    status.dataset.outcome = error?.code ?? "error";
  }
}
