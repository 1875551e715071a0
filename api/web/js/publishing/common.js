// What the publishing page's parts share: the platforms Almanac publishes to (from the
// server's registry), the intents' statuses and what each means, who a channel posts as,
// an entry's label, and why an intent stopped, in the app's words.

import { api } from "../api.js";
import { h, day, showError, refusal } from "../ui.js";
import { t } from "../i18n.js";
import { channelLabel } from "../platforms.js";
import { signIn } from "./signin.js";

export const MOVING = new Set(["scheduled", "publishing", "unknown"]);
export const STATUSES = ["dry_run", "scheduled", "publishing", "published", "draft_sent", "failed", "unknown", "unconfirmed", "cancelled"];
export const meaning = (status) => t(`publishing.explain.${status}`);
/** The platforms Almanac publishes to (`name`, `label`), as the server's registry lists them. */
let platforms = [];
export function setPlatforms(list) {
  platforms = list;
}
export const platformList = () => platforms;
export const platformName = channelLabel;
export const publishesTo = (p) => platforms.some((x) => x.name === p);
export { authorKind } from "../post-as.js";

export const entryLabel = (detail, id) => {
  const e = detail.entries.find((x) => x.id === id);
  return e ? `${platformName(e.channel)} ${day(e.date)} · ${e.title}` : t("publishing.removedEntry");
};
/** The calendar's time zone: the one its entries' times are in. */
export const zoneOf = (detail) => detail.calendar?.request?.constraints?.timezone ?? "UTC";

export const statusBadge = (s) => h("span", {
  class: `badge status ${["published", "draft_sent"].includes(s) ? "ok" : ["failed", "unconfirmed"].includes(s) ? "bad" : s === "dry_run" ? "" : "warn"}`,
  title: meaning(s),
}, t(`status.${s}`));
// Why the platform (or Almanac) refused an entry, in the app's words where it has them;
// a refusal that carries the platform's own code also gives what it said, in detail.
// (A refusal the app has no words for is told as it was said.)
export const reason = (i) => {
  if (!i.error) return "";
  const sentence = refusal(i.error, i.channel);
  const said = i.error.platformCode && i.error.message && i.error.message !== sentence;
  return said ? `${sentence} ${t("publishing.platformSaid", { said: i.error.message })}` : sentence;
};

/** Starts connecting `platform`: its consent page, or for a platform that signs in with
 * credentials a dialog asking for them (then `connected`, once it is). A refusal is said
 * in `problem`. */
export async function connectPlatform(platform, problem, connected = () => {}) {
  if (platforms.find((p) => p.name === platform)?.connect === "credentials") {
    if (await signIn(platform)) await connected();
    return;
  }
  try {
    const { authorizeUrl } = await api("POST", `/v1/channels/${platform}/connect`);
    location.assign(authorizeUrl);
  } catch (error) {
    showError(error.code === "OAUTH_NOT_CONFIGURED"
      ? new Error(t("publishing.oauthNotConfigured", { platform: platformName(platform) }))
      : error, problem);
  }
}
