// An entry's review in the calendar: a mark on its chip, and in its dialog where the review
// stands (the step, who is asked), asking for it, approving or asking for changes with a
// comment, and every decision so far (docs/review.md).

import { api, session, workspaces } from "../api.js";
import { who } from "../people.js";
import { h, toast, showProblem } from "../ui.js";
import { t, formatZoned } from "../i18n.js";

const TONE = { approved: "ok", in_review: "warn", changes_requested: "bad", expired: "bad", not_requested: "" };

/** The review's status as a badge; `null` where no review applies and none was asked. */
export function reviewBadge(review, { short = false } = {}) {
  if (!review || (!review.required && review.status === "not_requested")) return null;
  const label = t(`review.status.${review.status}`);
  const step = review.status === "in_review" && review.step ? ` ${review.step}/${review.steps.length}` : "";
  return h("span", { class: `badge review ${TONE[review.status]}`, title: label, dataset: { review: review.status } },
    short ? `${mark(review.status)}${step}` : `${label}${step}`);
}

function mark(status) {
  return { approved: "✓", in_review: "…", changes_requested: "✗", expired: "⌛", not_requested: "○" }[status];
}

/** Who a step asks, in words: its roles, members and guests. */
export function asked(step) {
  const a = step?.approvers ?? {};
  return [
    ...(a.roles ?? []).map((role) => t(`roles.${role}`)),
    ...(a.userIds ?? []).map((id) => who(id)),
    ...(a.guests ?? []),
  ].join(", ");
}

/** The review part of the entry dialog: `state` the calendar's, `current()` the entry shown
 * (kept fresh by the grid), `updated(entry)` once the review moved. */
export function reviewPanel(state, current) {
  const status = h("p", { class: "review-status row", id: "entry-review-status" });
  const history = h("ol", { class: "review-history", id: "entry-review-history" });
  const comment = h("textarea", { id: "entry-review-comment", rows: 2, maxlength: 2000, "aria-label": t("review.comment"), placeholder: t("review.commentHint") });
  const problem = h("div", { id: "entry-review-problem" });
  const act = async (path, body, done) => {
    const entry = current();
    problem.replaceChildren();
    try {
      const review = await api("POST", `/v1/calendars/${state.id}/entries/${entry.id}/review${path}`, body);
      state.grid.upsert({ ...entry, review });
      comment.value = "";
      show({ ...entry, review });
      toast(t(done));
    } catch (error) {
      showProblem(error, { problem });
    }
  };
  const askButton = h("button", { type: "button", class: "secondary", id: "entry-review-ask", "data-needs": "editor", onclick: () => act("", null, "review.asked") }, t("review.ask"));
  const decide = (decision, done) => () => act("/decisions", {
    decision, comment: comment.value.trim() || null, contentVersion: current().review.contentVersion,
  }, done);
  const approve = h("button", { type: "button", id: "entry-review-approve", onclick: decide("approve", "review.approvedToast") }, t("review.approve"));
  const changes = h("button", { type: "button", class: "secondary", id: "entry-review-changes", onclick: decide("request_changes", "review.changesToast") }, t("review.requestChanges"));
  const decision = h("div", { class: "stack", id: "entry-review-decide", hidden: true }, comment, h("div", { class: "row" }, approve, changes));
  const el = h("section", { class: "review-panel stack", id: "entry-review", "aria-labelledby": "entry-review-title", hidden: true },
    h("h3", { id: "entry-review-title" }, t("review.title")), status, decision, askButton, problem, history);

  function show(entry) {
    const review = entry.review;
    el.hidden = !review || (!review.required && review.status === "not_requested" && !review.decisions.length);
    if (el.hidden) return;
    const step = review.step ? review.steps[review.step - 1] : null;
    status.replaceChildren(reviewBadge(review) ?? t("review.status.not_requested"),
      review.status === "in_review" && step
        ? h("span", {}, t("review.stepAsks", { n: review.step, of: review.steps.length, name: step.name, who: asked(step) }))
        : review.status === "approved"
          ? h("span", {}, t("review.approvedAt", { version: review.approvedVersion }))
          : review.status === "expired" ? h("span", {}, t("review.expiredHint")) : "");
    const me = session.user;
    const mine = review.status === "in_review" && step && review.requestedBy !== me && mayDecide(step, me);
    decision.hidden = !mine;
    askButton.hidden = !(review.required && ["not_requested", "changes_requested", "expired"].includes(review.status));
    history.replaceChildren(...review.decisions.slice().reverse().map((d) => h("li", {},
      h("strong", {}, d.by ? who(d.by) : d.guestName), d.by ? "" : h("span", { class: "badge" }, t("comments.guest")), " ",
      t(d.decision === "approve" ? "review.didApprove" : "review.didRequestChanges", { n: d.step, version: d.contentVersion }),
      " · ", formatZoned(d.at),
      d.comment ? h("blockquote", {}, d.comment) : null)));
  }
  return { el, show };
}

/** Whether person `me` is one of `step`'s approvers (by their role here, or named). */
export function mayDecide(step, me) {
  const a = step.approvers ?? {};
  return (a.userIds ?? []).includes(me) || (a.roles ?? []).includes(workspaces.role());
}
