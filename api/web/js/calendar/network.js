// One network's tab of the post composer: the post as that network lays it out, its text
// counted against that network's own limits, each field it says on its own (marked as its
// own, with "Use the shared text" to drop it) or the shared value it follows, what the
// server found the network would refuse when the post was saved, and its entry's review.

import { accountName, channelLabel } from "../platforms.js";
import { compose, textCounter } from "../limits.js";
import { h, refusal, words } from "../ui.js";
import { t } from "../i18n.js";
import { postPreview } from "./composer.js";
import { reviewBadge } from "./review.js";

/** The fields a network may say on its own, as the post composer edits them. */
export const OWN_FIELDS = ["caption", "title", "hashtags", "callToAction", "firstComment"];

const LONG = new Set(["caption", "firstComment"]);

/**
 * The tab's panel for `channel` (a connected channel): `shared()` gives the shared fields as
 * typed, `own` holds this network's own values (changed in place), `saved` its entry and
 * what the server judged at the last save (`{entry, sends}`, or null), `onChange()` follows
 * every change, `openEntry(entry)` opens the entry's own dialog.
 */
export async function networkPanel({ channel, shared, own, saved, onChange, openEntry }) {
  const platform = channel.platform;
  const label = channelLabel(platform);
  const value = (name) => own[name] ?? shared()[name] ?? "";
  const read = () => ({
    text: compose(value("caption"), value("callToAction"), words(value("hashtags"))),
    title: value("title").trim(),
    mediaIds: shared().mediaIds,
    mediaUrl: "",
    firstComment: value("firstComment"),
  });
  const counter = await textCounter(platform, "", read);
  const preview = await postPreview(platform, read, { id: `post-preview-${channel.id}`, accounts: [channel] });
  const rows = new Map();
  const row = (name) => {
    const mine = own[name] !== undefined;
    const legend = h("span", { class: "own-label" }, t(`posts.field.${name}`),
      mine ? h("span", { class: "badge override", dataset: { override: name } }, t("posts.override", { network: label })) : null);
    let body;
    if (mine) {
      const input = h(LONG.has(name) ? "textarea" : "input", { name: `${name}-${channel.id}`, value: own[name], "aria-label": `${t(`posts.field.${name}`)} (${label})` });
      if (LONG.has(name)) input.value = own[name];
      input.addEventListener("input", () => { own[name] = input.value; update(); onChange(); });
      const drop = h("button", { type: "button", class: "link", dataset: { useShared: name },
        onclick: () => { delete own[name]; redraw(name); update(); onChange(); } }, t("posts.useShared"));
      body = [input, drop];
    } else {
      const shown = shared()[name] || t(name === "title" ? "posts.titleFromCaption" : "posts.empty");
      const write = h("button", { type: "button", class: "link", dataset: { writeOwn: name },
        onclick: () => { own[name] = shared()[name] ?? ""; redraw(name); update(); onChange(); rows.get(name).querySelector("input, textarea")?.focus(); } },
      t("posts.writeOwn", { network: label }));
      body = [h("p", { class: "shared-value muted", dataset: { follows: name } }, shown), write];
    }
    return h("div", { class: `own-field${mine ? " mine" : ""}`, dataset: { field: name } }, legend, ...body);
  };
  const redraw = (name) => {
    const next = row(name);
    rows.get(name).replaceWith(next);
    rows.set(name, next);
  };
  for (const name of OWN_FIELDS) rows.set(name, row(name));
  const entry = saved?.entry;
  const problems = saved?.sends?.problems ?? [];
  const review = entry
    ? h("p", { class: "row review-line" }, reviewBadge(entry.review) ?? h("span", { class: "muted" }, t("posts.noReview")),
      h("button", { type: "button", class: "link", dataset: { openEntry: entry.id }, onclick: () => openEntry(entry) }, t("posts.openEntry")))
    : h("p", { class: "muted" }, t("posts.notSaved"));
  const refused = problems.length
    ? h("div", { class: "notice bad", dataset: { refused: channel.id } },
      h("strong", {}, t("posts.refusedWhenSaved", { network: label })),
      h("ul", {}, problems.map((p) => h("li", {}, refusal(p, platform)))))
    : null;
  const el = h("section", { class: "network-panel stack", id: `post-panel-${channel.id}`, role: "tabpanel", "aria-labelledby": `post-tab-${channel.id}`, hidden: true },
    h("h3", {}, accountName(channel)),
    review,
    h("div", { class: "composer" },
      h("div", { class: "stack" }, [...rows.values()], counter.el, refused),
      h("div", { class: "composer-preview stack" }, h("h4", {}, t("posts.receives", { network: label })), preview.el)));
  function update() {
    counter.update();
    preview.update();
  }
  return {
    el,
    /** The shared fields changed: what this network follows is shown again. */
    sharedChanged() {
      for (const name of OWN_FIELDS) if (own[name] === undefined) redraw(name);
      update();
    },
    /** Whether its text is past one of its limits now. */
    over: () => counter.update(),
    problems: problems.length,
  };
}
