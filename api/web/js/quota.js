// A channel's posting quota where it bites (the channel's row, the queue, the composer),
// in the catalogue's words: what it counts (posts, or for TikTok the drafts waiting in the
// inbox), whose it is (the account's, or every user's of this server), how much of it is
// used and, once it is full, when a place frees. A platform without a quota says nothing.

import { api } from "./api.js";
import { h } from "./ui.js";
import { t, formatZoned } from "./i18n.js";
import { channelLabel } from "./platforms.js";

/** The sentence for `quota` (`GET /v1/channels/{id}/quota`) of a `platform` channel;
 * null where the platform documents no quota. */
export function quotaText(quota, platform) {
  if (quota.limit === null || quota.limit === undefined) return null;
  const hours = Math.round((quota.windowSecs ?? 86400) / 3600);
  const words = { count: quota.limit, used: quota.used, limit: quota.limit, hours, platform: channelLabel(platform) };
  const what = quota.counts === "drafts" ? "drafts" : quota.per === "app" ? "app" : "posts";
  const said = t(`quota.${what}`, words);
  return quota.freesAt ? `${said} ${t("quota.full", { when: formatZoned(quota.freesAt) })}` : said;
}

/** A line saying `channel`'s quota, filled once the server answers (removed when the
 * platform has none, or the answer does not come). */
export function quotaNote(channel, attrs = {}) {
  const el = h("p", { class: "muted quota-note", dataset: { channelId: channel.id }, ...attrs });
  el.hidden = true;
  api("GET", `/v1/channels/${channel.id}/quota`).then((quota) => {
    const text = quotaText(quota, channel.platform);
    if (!text) return el.remove();
    el.textContent = text;
    el.classList.toggle("bad", Boolean(quota.freesAt));
    el.dataset.used = String(quota.used);
    el.dataset.limit = String(quota.limit);
    el.hidden = false;
  }, () => el.remove());
  return el;
}
