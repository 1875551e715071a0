// Review (`#/review`): what awaits me (entries whose current step I approve, decided here
// with a comment), then the workspace's other entries in review and those sent back with
// changes asked for (docs/review.md).

import { api, people } from "./api.js";
import { who } from "./people.js";
import { h, fill, toast, showProblem, platformBadge } from "./ui.js";
import { t, formatZoned } from "./i18n.js";
import { channelLabel } from "./platforms.js";

export async function show(view) {
  const [{ items }] = await Promise.all([api("GET", "/v1/reviews"), people.load()]);
  const yours = items.filter((item) => item.yours);
  const others = items.filter((item) => !item.yours && item.status === "in_review");
  const back = items.filter((item) => item.status === "changes_requested");
  const section = (id, title, list, render, empty) => h("section", { class: "stack", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    list.length ? h("ul", { class: "list review-list" }, list.map(render)) : h("p", { class: "muted" }, empty));
  fill(view, h("h1", {}, t("review.pageTitle")),
    h("p", { class: "muted" }, t("review.pageIntro")),
    section("review-yours", t("review.yours", { count: yours.length }), yours, (item) => decidable(item, view), t("review.noneYours")),
    section("review-others", t("review.others"), others, summary, t("review.noneOthers")),
    section("review-back", t("review.back"), back, summary, t("review.noneBack")));
}

/** An entry's line: its platform, title, calendar, time, step and who asked. */
function summary(item) {
  return h("li", { class: "review-item stack", dataset: { entry: item.entryId } },
    h("p", { class: "row" }, platformBadge(item.channel),
      h("strong", {}, item.title),
      h("a", { href: `#/calendar/${item.calendarId}` }, item.calendarName)),
    h("p", { class: "muted" },
      t("review.itemLine", {
        when: formatZoned(item.scheduledAt), channel: channelLabel(item.channel),
        step: item.stepName ? t("review.stepOf", { n: item.step, of: item.steps, name: item.stepName }) : "",
        who: item.requestedBy ? who(item.requestedBy) : t("people.someone"),
      })));
}

/** An entry waiting for the person: approve, or ask for changes with a comment. */
function decidable(item, view) {
  const line = summary(item);
  const comment = h("textarea", { rows: 2, maxlength: 2000, "aria-label": t("review.comment"), placeholder: t("review.commentHint") });
  const problem = h("div");
  const decide = (decision, done) => async () => {
    problem.replaceChildren();
    try {
      await api("POST", `/v1/calendars/${item.calendarId}/entries/${item.entryId}/review/decisions`,
        { decision, comment: comment.value.trim() || null, contentVersion: item.contentVersion });
      toast(t(done));
      await show(view);
    } catch (error) {
      showProblem(error, { problem });
    }
  };
  line.append(comment, h("div", { class: "row" },
    h("button", { type: "button", class: "review-approve", onclick: decide("approve", "review.approvedToast") }, t("review.approve")),
    h("button", { type: "button", class: "secondary review-changes", onclick: decide("request_changes", "review.changesToast") }, t("review.requestChanges"))),
  problem);
  return line;
}
