// Who a post goes out as, where a platform has several connected accounts (a LinkedIn
// member and the pages they administer): one choice per platform, read by the publishing
// page and the calendar's "Add to queue", whose requests take the chosen channels' ids.

import { h, field } from "./ui.js";
import { t } from "./i18n.js";
import { accountName, channelLabel } from "./platforms.js";

/** Who a channel posts as, where its platform has more than one kind of author (the
 * server says: a member's profile, or a page they administer). */
export const authorKind = (c) =>
  c.authorKind === "organization" ? t("publishing.authorPage")
    : c.authorKind === "member" ? t("publishing.authorMember") : null;

/** A choice of the account to post as, for each of `platforms` (the entries' channels)
 * with several `connected`; `fields` to show, `chosen()` the chosen channels' ids. */
export function postAs(connected, platforms) {
  const used = new Set(platforms);
  const selects = [...new Set(connected.map((c) => c.platform))]
    .filter((p) => used.has(p) && connected.filter((c) => c.platform === p).length > 1)
    .map((p) => h("select", { id: `post-as-${p}`, name: "post-as", dataset: { platform: p } }, connected.filter((c) => c.platform === p).map((c) =>
      h("option", { value: c.id }, authorKind(c) ? `${accountName(c)} (${authorKind(c)})` : accountName(c)))));
  return {
    fields: selects.map((select) => field(t("publishing.postAs", { platform: channelLabel(select.dataset.platform) }), select)),
    chosen: () => selects.map((select) => select.value),
  };
}
