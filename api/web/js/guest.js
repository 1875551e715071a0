// A review link's page (`/review/<token>`), for someone without an account: each entry the
// link shows as its platform would post it, its review's steps and decisions, its comments,
// and, where the link and the step allow, Approve and Request changes. The token in the
// address is the only credential: no cookie is sent or set, no referrer leaves the page.
// Names and comments are shown as text, never as markup.

import { start, t, has, formatZoned } from "./i18n.js";
import { loadChannels, colored, channelLabel } from "./platforms.js";
import { h, fill, toast, field, platformBadge, marked } from "./ui.js";

const token = location.pathname.split("/").filter(Boolean)[1] ?? "";
const base = `/review/${encodeURIComponent(token)}`;
// The name given, for this tab only: the next comment or decision is signed with it.
const NAME_KEY = "almanac.guestName";
const view = document.getElementById("view");

class GuestError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** `method` on the link's `path`, with no credentials: the answer's `data`. */
async function call(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    credentials: "omit",
    referrerPolicy: "no-referrer",
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const error = json?.error ?? {};
    throw new GuestError(response.status, error.code, error.message ?? response.statusText, error.details);
  }
  return json.data;
}

/** A refusal in the page's words. */
function said(error) {
  if (error.status === 404) return t("guest.gone");
  if (error.status === 429) return t("guest.slowDown");
  if (error.code && has(`errors.code.${error.code}`)) return t(`errors.code.${error.code}`);
  return error.message || t("guest.failed");
}

const TONE = { approved: "ok", in_review: "warn", changes_requested: "bad", expired: "bad", not_requested: "" };

async function show() {
  let link;
  try {
    link = await call("GET", "/entries");
  } catch (error) {
    return fill(view, h("section", { class: "panel stack", role: "alert", id: "guest-gone" },
      h("h1", {}, t("guest.goneTitle")), h("p", {}, said(error))));
  }
  const name = h("input", {
    id: "guest-name", name: "name", maxlength: 80, required: true, autocomplete: "name",
    value: sessionStorage.getItem(NAME_KEY) ?? "",
  });
  name.addEventListener("change", () => sessionStorage.setItem(NAME_KEY, name.value.trim()));
  const who = () => {
    const given = name.value.trim();
    if (!given) {
      name.setCustomValidity(t("guest.nameFirst"));
      name.reportValidity();
      name.focus();
      name.setCustomValidity("");
      return null;
    }
    sessionStorage.setItem(NAME_KEY, given);
    return given;
  };
  const entries = h("div", { class: "guest-entries stack", id: "guest-entries" });
  fill(view,
    h("section", { class: "panel stack guest-intro" },
      h("h1", { id: "guest-title" }, link.label ? `${link.calendarName} · ${link.label}` : link.calendarName),
      h("p", {}, t(link.canApprove ? "guest.introApprove" : "guest.introComment")),
      h("p", { class: "hint", id: "guest-expires" }, t("guest.expires", { when: formatZoned(link.expiresAt) })),
      field(t("guest.name"), name, h("span", { class: "hint" }, t("guest.nameHint")))),
    entries);
  if (!link.entries.length) entries.append(h("p", { class: "muted" }, t("guest.empty")));
  for (const entry of link.entries) entries.append(entryCard(entry, who));
}

/** One entry: the post, its review and what was said of it. */
function entryCard(entry, who) {
  const card = h("article", colored(entry.channel, { class: "guest-entry panel stack", id: `guest-entry-${entry.id}`, "aria-labelledby": `guest-entry-title-${entry.id}` }));
  const render = (current) => fill(card, ...parts(current, who, (next) => render(next)));
  render(entry);
  return card;
}

function parts(entry, who, rerender) {
  const problem = h("p", { class: "notice bad", role: "alert", hidden: true });
  const fail = (error) => {
    problem.textContent = said(error);
    problem.hidden = false;
  };
  const review = entry.review;
  const status = h("span", { class: `badge review ${TONE[review.status] ?? ""}`, dataset: { review: review.status } },
    t(`review.status.${review.status}`));
  return [
    h("header", { class: "row spread" },
      h("div", { class: "row" }, platformBadge(entry.channel),
        h("span", { class: "muted" }, formatZoned(entry.scheduledAt))),
      status),
    h("h2", { id: `guest-entry-title-${entry.id}` }, entry.title),
    post(entry),
    steps(review),
    review.youMayDecide ? decision(entry, who, rerender, fail) : null,
    problem,
    history(entry),
    comments(entry, who, rerender, fail),
  ];
}

/** The post as its platform shows it: the media first, then the words. */
function post(entry) {
  const media = entry.media.map((m) => (m.kind === "video"
    ? h("video", { src: m.url, controls: true, preload: "metadata", "aria-label": m.altText || t("guest.video") })
    : h("img", { src: m.url, alt: m.altText || "", loading: "lazy" })));
  const text = [entry.caption, entry.callToAction].filter((part) => part?.trim()).join("\n\n");
  return h("section", colored(entry.channel, { class: "post-preview guest-post", "aria-label": t("composer.previewOf", { platform: channelLabel(entry.channel) }) }),
    media.length ? h("div", { class: "preview-media guest-media" }, media) : null,
    entry.mediaUrl && !media.length ? h("p", { class: "muted" }, h("a", { href: entry.mediaUrl, rel: "noopener noreferrer", target: "_blank" }, t("guest.mediaLink"))) : null,
    h("p", { class: "preview-text" }, marked(text)),
    entry.hashtags.length ? h("p", { class: "preview-text" }, entry.hashtags.map((tag) => h("span", { class: "tag" }, `#${tag.replace(/^#+/, "")}`))) : null);
}

/** The review's steps, the one asked now marked. */
function steps(review) {
  if (!review.steps.length) return h("p", { class: "hint" }, t("guest.notAsked"));
  return h("ol", { class: "guest-steps", "aria-label": t("guest.steps") },
    review.steps.map((name, i) => {
      const n = i + 1;
      const now = review.status === "in_review" && review.step === n;
      const done = review.status === "approved" || (review.status === "in_review" && review.step > n);
      return h("li", { class: now ? "now" : done ? "done" : "", "aria-current": now ? "step" : null },
        done ? "✓ " : "", name);
    }));
}

/** Approve, or ask for changes with what to change. */
function decision(entry, who, rerender, fail) {
  const comment = h("textarea", { rows: 2, maxlength: 2000, "aria-label": t("guest.whatToChange"), placeholder: t("guest.whatToChange") });
  const decide = (kind) => async (event) => {
    const name = who();
    if (!name) return;
    event.target.disabled = true;
    try {
      const next = await call("POST", "/decisions", {
        entryId: entry.id, decision: kind, name, comment: comment.value.trim() || null,
        contentVersion: entry.review.contentVersion,
      });
      toast(t(kind === "approve" ? "guest.approved" : "guest.changesAsked"));
      rerender(next);
    } catch (error) {
      event.target.disabled = false;
      fail(error);
    }
  };
  return h("section", { class: "stack guest-decide", "aria-label": t("guest.decide") },
    comment,
    h("div", { class: "row" },
      h("button", { type: "button", class: "guest-approve", onclick: decide("approve") }, t("review.approve")),
      h("button", { type: "button", class: "secondary guest-changes", onclick: decide("request_changes") }, t("review.requestChanges"))));
}

/** Who decided what, oldest first. */
function history(entry) {
  if (!entry.decisions.length) return null;
  return h("ol", { class: "review-history guest-history", "aria-label": t("guest.history") },
    entry.decisions.map((d) => h("li", {},
      h("strong", {}, d.by ?? t("guest.team")), d.guest ? ` (${t("guest.guest")})` : "", " ",
      t(d.decision === "approve" ? "guest.didApprove" : "guest.didRequestChanges", { step: d.stepName ?? d.step }),
      " · ", formatZoned(d.at),
      d.comment ? h("blockquote", {}, d.comment) : null)));
}

/** The comments, and one more. */
function comments(entry, who, rerender, fail) {
  const text = h("textarea", { rows: 2, maxlength: 4000, required: true, "aria-label": t("guest.comment"), placeholder: t("guest.commentHint") });
  const send = h("button", { type: "submit", class: "secondary" }, t("guest.send"));
  const form = h("form", { class: "stack guest-comment-form" }, text, h("div", { class: "row" }, send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = who();
    if (!name || !text.value.trim()) return;
    send.disabled = true;
    try {
      const made = await call("POST", "/comments", { entryId: entry.id, name, text: text.value.trim() });
      toast(t("guest.commented"));
      rerender({ ...entry, comments: [...entry.comments, made] });
    } catch (error) {
      send.disabled = false;
      fail(error);
    }
  });
  return h("section", { class: "stack guest-comments", "aria-label": t("guest.comments") },
    h("h3", {}, t("guest.comments")),
    entry.comments.length
      ? h("ol", { class: "comment-list" }, entry.comments.map((c) => h("li", { class: "comment" },
        h("p", { class: "comment-by" }, h("strong", {}, c.by ?? t("guest.team")), c.guest ? ` (${t("guest.guest")})` : "",
          h("span", { class: "muted" }, ` · ${formatZoned(c.at)}`)),
        h("p", { class: "comment-text" }, c.text))))
      : h("p", { class: "muted" }, t("guest.noComments")),
    form);
}

Promise.all([start(), loadChannels()])
  .catch((error) => console.error(error))
  .then(() => show());
