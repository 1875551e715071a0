// Completing a channel's connection (`#/channels/connect?platform&code&state`): the
// platform sent the browser back through the API's callback, which only forwards what it
// carried here; the signed-in user posts it to `complete`, so the account is bound to
// whoever started connecting, never to whoever opened the link.

import { api } from "./api.js";
import { h, fill } from "./ui.js";

const LABELS = { tiktok: "TikTok", instagram: "Instagram" };

/** What each refusal means to the person who followed the link. */
function explain(error, platform) {
  const name = LABELS[platform] ?? "The platform";
  switch (error?.code) {
    case "OAUTH_STATE_NOT_YOURS":
      return "This connection was started from another account. Sign in as the person who started it, then connect again from Publishing.";
    case "OAUTH_STATE_INVALID":
      return "This connection link has expired or was already used. Start connecting again from Publishing.";
    case "OAUTH_DENIED":
      return `${name} did not grant access, so nothing was connected.`;
    case "OAUTH_EXCHANGE_FAILED":
    case "OAUTH_CODE_MISSING":
      return `${name} did not complete the connection. Start connecting again from Publishing.`;
    case "PLATFORM_UNAVAILABLE":
      return `${name} could not be reached. Start connecting again in a few minutes.`;
    default:
      return error?.message ?? String(error);
  }
}

export async function show(view, [step]) {
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const platform = query.get("platform") ?? "";
  const back = h("a", { href: "#/publishing", class: "button" }, "Back to Publishing");
  if (!step?.startsWith("connect") || !query.get("state")) {
    return fill(view, h("h1", {}, "Channels"), h("p", {}, "Nothing to connect here."), back);
  }
  const status = h("p", { role: "status" }, `Connecting your ${LABELS[platform] ?? ""} account…`);
  fill(view, h("h1", {}, "Connect a channel"), h("section", { class: "panel stack", id: "channel-connect" }, status, back));
  // The state is single-use: a reload must not post it again.
  history.replaceState(null, "", "#/channels/connect");
  const body = { state: query.get("state") };
  for (const [key, name] of [["code", "code"], ["error", "error"], ["error_description", "errorDescription"]]) {
    if (query.get(key)) body[name] = query.get(key);
  }
  try {
    const channel = await api("POST", `/v1/channels/${encodeURIComponent(platform)}/complete`, body);
    fill(status, `${LABELS[channel.platform] ?? channel.platform} account ${channel.handle ?? channel.accountId} is connected.`);
    status.className = "notice ok";
    status.dataset.outcome = "connected";
  } catch (error) {
    fill(status, explain(error, platform));
    status.className = "notice bad";
    status.setAttribute("role", "alert");
    status.dataset.outcome = error?.code ?? "error";
  }
}
