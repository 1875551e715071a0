// An entry, edited or moved: the editor stays open until the server takes the edit, counts
// the post's text against its platform's limits as it is typed, shows the post as its
// platform lays it out, takes media dropped on it or picked from the library, and asks
// before a changed entry is closed; "Move…" reschedules from the keyboard as a drag does
// with the pointer.

import { api, atVersion, people, workspaces } from "../api.js";
import { who } from "../people.js";
import { versions } from "./versions.js";
import { toUtc } from "./dates.js";
import { reload } from "./page.js";
import { channelLabel } from "../platforms.js";
import { compose, textCounter } from "../limits.js";
import { mediaField, postPreview } from "./composer.js";
import { queueEntryButton } from "./queue.js";
import { reviewPanel } from "./review.js";
import { commentsPanel } from "./comments.js";
import { h, field, toast, day, showError, showProblem, clearProblems, guardUnsaved, words } from "../ui.js";
import { t, formatTime, formatZoned, number, percent } from "../i18n.js";

/** The entry editor: it stays open until the server takes the edit (a refusal is shown at
 * its field, nothing typed is lost), counts the post's text against its platform's limits
 * as it is typed, and asks before a changed entry is closed (Esc, Close, Back). */
export function entryEditor(state) {
  const input = (name, attrs = {}) => h("input", { name, ...attrs });
  const fields = {
    title: input("title", { required: true, maxlength: 200 }),
    caption: h("textarea", { name: "caption" }),
    hashtags: input("hashtags"),
    callToAction: input("callToAction"),
    firstComment: h("textarea", { name: "firstComment", rows: 2, maxlength: 2200 }),
    date: input("date", { type: "date" }),
    time: input("time", { type: "time" }),
    mediaUrl: input("mediaUrl", { type: "url", placeholder: "https://…" }),
  };
  const problem = h("div", { id: "entry-problem" });
  const counter = h("div", { id: "entry-counter" });
  const numbers = h("div", { id: "entry-numbers" });
  const previewHolder = h("div", { class: "composer-preview" });
  let preview = null;
  const media = mediaField(() => preview?.update());
  const mates = teammates(state, { fields, media, snapshot: () => snapshot(), submit: () => form.requestSubmit(save), open: () => dialog.open });
  const review = reviewPanel(state, () => state.grid.get(state.editing));
  state.reviewShown = (entry) => review.show(entry);
  const comments = commentsPanel(state, () => state.grid.get(state.editing));
  const save = h("button", { type: "submit", value: "save", id: "entry-save", "data-needs": "editor" }, t("common.save"));
  const form = h("form", { method: "dialog", class: "stack" },
    // A viewer reads the entry: nothing in it is theirs to change (roles.js turns it off).
    h("h2", { id: "entry-editor-title" }, t(workspaces.may("editor") ? "calendar.editEntry" : "calendar.readEntry")),
    h("p", { class: "muted", id: "entry-editor-key" }),
    ...mates.els,
    review.el,
    numbers,
    h("div", { class: "composer", "data-needs": "editor" },
      h("div", { class: "stack" },
        field(t("calendar.entryTitle"), fields.title), field(t("calendar.caption"), fields.caption),
        field(t("calendar.hashtags"), fields.hashtags),
        field(t("calendar.callToAction"), fields.callToAction), counter,
        field(t("posts.field.firstComment"), fields.firstComment, h("span", { class: "hint" }, t("posts.firstCommentHint"))),
        media.el,
        h("div", { class: "row" }, field(t("calendar.date"), fields.date), field(t("calendar.time"), fields.time)),
        h("p", { class: "hint", id: "entry-zone" }),
        field(t("calendar.mediaUrl"), fields.mediaUrl)),
      previewHolder),
    // Any member comments, a viewer too: outside what only editors change.
    comments.el,
    problem,
    h("div", { class: "row" }, save,
      h("button", { type: "button", class: "secondary", id: "entry-move", "data-needs": "editor", onclick: () => state.openMover(state.editing) }, t("calendar.move")),
      queueEntryButton(state, () => dialog, problem, () => snapshot() !== state.editorSnapshot),
      h("button", { type: "button", value: "cancel", class: "secondary", id: "entry-close" }, t("common.close"))));
  const dialog = h("dialog", { id: "entry-editor", "aria-labelledby": "entry-editor-title" }, form);
  function snapshot() { return JSON.stringify([...Object.values(fields).map((f) => f.value), media.ids()]); }
  guardUnsaved(dialog, () => state.editorSnapshot !== undefined && snapshot() !== state.editorSnapshot, dialog.querySelector("#entry-close"));
  dialog.addEventListener("close", () => { state.editingId = null; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entry = state.editing && state.grid.get(state.editing);
    if (!entry) return;
    const patch = {
      title: fields.title.value, caption: fields.caption.value,
      hashtags: words(fields.hashtags.value), callToAction: fields.callToAction.value,
      firstComment: fields.firstComment.value,
      date: fields.date.value, time: fields.time.value.slice(0, 5),
      mediaUrl: fields.mediaUrl.value.trim() || null,
      mediaIds: media.ids(),
    };
    save.disabled = true;
    clearProblems(form);
    problem.replaceChildren();
    try {
      // Saved only at the version this dialog shows: a teammate's change meanwhile is 412.
      const saved = await api("PATCH", `/v1/calendars/${state.id}/entries/${entry.id}`, patch, atVersion(state.editingVersion));
      if (saved.key !== entry.key) state.grid.remove(entry.key);
      state.grid.upsert(saved);
      state.editorSnapshot = undefined;
      dialog.close("save");
      toast(t("calendar.entrySaved"));
    } catch (error) {
      if (error.code === "EDIT_CONFLICT" && error.details?.current) mates.conflict(error.details, patch);
      else showProblem(error, { problem, fields: { ...fields, mediaIds: media.control, media: media.control }, root: form });
    } finally {
      save.disabled = false;
    }
  });
  state.openEditorWith = async (entry) => {
    state.editing = entry.key;
    state.editingId = entry.id;
    state.editingVersion = entry.version;
    mates.opened(entry);
    review.show(entry);
    comments.show(entry);
    dialog.querySelector("#entry-zone").textContent = t("calendar.timesIn", { zone: state.grid.range.timezone });
    dialog.querySelector("#entry-editor-key").textContent = `${channelLabel(entry.channel)} · ${day(entry.date)}${entry.edited ? ` · ${t("calendar.edited")}` : ""}`;
    problem.replaceChildren();
    clearProblems(form);
    numbers.replaceChildren(postNumbers(state.grid.numbers.get(entry.id)) ?? "");
    // The post's text as the server composes it, against the entry's platform's limits.
    const live = await textCounter(entry.channel, entry.format, () => ({
      text: compose(fields.caption.value, fields.callToAction.value, words(fields.hashtags.value)),
      title: fields.title.value.trim(),
    }));
    counter.replaceChildren(live.el);
    // The post as its platform lays it out, as it is typed.
    preview = await postPreview(entry.channel, () => ({
      text: compose(fields.caption.value, fields.callToAction.value, words(fields.hashtags.value)),
      mediaIds: media.ids(),
      mediaUrl: fields.mediaUrl.value.trim(),
      firstComment: fields.firstComment.value,
    }));
    previewHolder.replaceChildren(preview.el);
    for (const name of ["title", "caption", "hashtags", "callToAction", "mediaUrl", "firstComment"]) {
      fields[name].oninput = () => { live.update(); preview.update(); };
    }
    dialog.returnValue = "";
    state.editorSnapshot = snapshot();
    dialog.showModal();
    fields.title.focus();
  };
  return dialog;
}

/** What the editor says of teammates: who made the entry and who last changed it, a change
 * a teammate made while it is open (the fields left alone), and both versions when a save
 * met such a change: "Keep mine" saves this one over theirs at their version, "Take theirs"
 * shows theirs in the fields. `parts` are the editor's fields, media, snapshot, a submit
 * and whether it is open. */
function teammates(state, { fields, media, snapshot, submit, open }) {
  const byline = h("p", { class: "hint", id: "entry-byline" });
  const changed = h("p", { class: "notice warn", id: "entry-changed", role: "status", hidden: true });
  const conflict = h("section", { class: "notice warn conflict stack", id: "entry-conflict", role: "alert", hidden: true });
  const fill = (entry) => {
    fields.title.value = entry.title;
    fields.caption.value = entry.caption ?? "";
    fields.hashtags.value = (entry.hashtags ?? []).join(" ");
    fields.callToAction.value = entry.callToAction ?? "";
    fields.firstComment.value = entry.firstComment ?? "";
    fields.date.value = entry.date;
    fields.time.value = (entry.time ?? "").slice(0, 5);
    fields.mediaUrl.value = entry.mediaUrl ?? "";
    media.set(entry.mediaIds);
  };
  state.editorChanged = (change) => {
    if (!open()) return;
    const name = who(change.by?.userId, change.by);
    changed.textContent = t(change.change === "deleted" ? "live.deletedWhileOpen" : "live.changedWhileOpen", { who: name });
    changed.hidden = false;
  };
  const keep = (details) => () => {
    state.editingVersion = details.current.version;
    conflict.hidden = true;
    submit();
  };
  const take = (details) => () => {
    state.editingVersion = details.current.version;
    state.grid.upsert(details.current);
    fill(details.current);
    state.editorSnapshot = snapshot();
    conflict.hidden = true;
    changed.textContent = t("live.tookTheirs");
    changed.hidden = false;
  };
  return {
    els: [byline, changed, conflict],
    conflict(details, mine) {
      changed.hidden = true;
      conflict.replaceChildren(...versions(details, mine, keep(details), take(details)));
      conflict.hidden = false;
      conflict.scrollIntoView?.({ block: "nearest" });
    },
    opened(entry) {
      fill(entry);
      changed.hidden = true;
      conflict.hidden = true;
      byline.replaceChildren(...(people.shared() && entry.createdBy ? [
        t("people.madeBy", { who: who(entry.createdBy) }),
        entry.updatedBy && entry.updatedAt ? ` · ${t("people.changedBy", { who: who(entry.updatedBy), when: formatZoned(entry.updatedAt) })}` : "",
      ] : []));
    },
  };
}

/** "Move…": another day and time for an entry, from the keyboard as well as the pointer. */
export function mover(state) {
  const date = h("input", { type: "date", name: "moveDate", required: true });
  const time = h("input", { type: "time", name: "moveTime", required: true });
  const what = h("p", { class: "muted", id: "move-what" });
  const zone = h("p", { class: "hint", id: "move-zone" });
  const dialog = h("dialog", { id: "move-dialog", "aria-labelledby": "move-title" },
    h("form", { method: "dialog", class: "stack" },
      h("h2", { id: "move-title" }, t("calendar.moveTitle")), what,
      h("div", { class: "row" }, field(t("calendar.date"), date), field(t("calendar.time"), time)), zone,
      h("div", { class: "row" },
        h("button", { type: "submit", value: "move", id: "move-save" }, t("calendar.moveHere")),
        h("button", { type: "submit", value: "cancel", formnovalidate: true, class: "secondary", id: "move-close" }, t("common.close")))));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "move" || !dialog.dataset.key) return;
    document.getElementById("entry-editor")?.close();
    await state.grid.move(dialog.dataset.key, date.value, time.value.slice(0, 5));
  });
  state.openMover = (key) => {
    const entry = state.grid.get(key);
    if (!entry) return;
    dialog.dataset.key = key;
    date.value = entry.date;
    time.value = String(entry.time).slice(0, 5);
    what.textContent = `${channelLabel(entry.channel)} · ${entry.title}`;
    zone.textContent = t("calendar.timesIn", { zone: state.grid.range.timezone });
    dialog.returnValue = "";
    dialog.showModal();
    date.focus();
  };
  return dialog;
}

/** A published entry's numbers, as its platform last reported them; `null` before any. */
function postNumbers(post) {
  if (!post?.metrics) return null;
  const m = post.metrics;
  const shown = [["views", m.views ?? m.impressions], ["likes", m.likes], ["comments", m.comments], ["shares", m.shares]]
    .filter(([, n]) => n !== null && n !== undefined)
    .map(([k, n]) => h("li", {}, h("strong", {}, number(n)), " ", t(`analytics.${k}`)));
  shown.push(h("li", {}, h("strong", {}, percent(post.engagementRate)), " ", t("analytics.rate")));
  return h("section", { class: "notice post-numbers", "aria-label": t("analytics.postNumbers") },
    h("ul", { class: "inline-list" }, shown),
    h("p", { class: "hint" }, t(`analytics.reading.${post.reading}`),
      post.postUrl ? [" · ", h("a", { href: post.postUrl, target: "_blank", rel: "noopener" }, t("analytics.openPost"))] : null));
}

/** Opens the editor; an entry only streamed so far gets its saved id first. */
export async function openEditor(state, key) {
  let entry = state.grid.get(key);
  if (!entry.id) {
    try {
      const detail = await api("GET", `/v1/calendars/${state.id}`);
      for (const saved of detail.entries) {
        const mine = state.grid.get(saved.key);
        if (mine) state.grid.entries.set(saved.key, { ...mine, ...saved });
      }
      entry = state.grid.get(key);
    } catch (error) {
      return showError(error);
    }
    if (!entry.id) return toast(t("calendar.notSavedYet"));
  }
  state.openEditorWith(entry);
}

/** Saves a move (the grid's `onMove`); the grid already shows it there. */
export async function moveEntry(state, key, date, time) {
  const entry = state.grid.get(key);
  if (!entry?.id) {
    toast(t("calendar.notSavedYet"));
    throw new Error("not saved yet");
  }
  // A post's chip moves the post: every network's entry not yet published.
  if (entry.postId) return movePost(state, entry, date, time);
  try {
    // Moved only at the version shown: a teammate's change meanwhile is shown instead.
    const saved = await api("PATCH", `/v1/calendars/${state.id}/entries/${entry.id}`, { date, time }, atVersion(entry.version));
    if (saved.key !== key) state.grid.remove(key);
    state.grid.upsert(saved);
    toast(t("calendar.moved", { day: day(saved.date), time: formatTime(saved.time.slice(0, 5)) }));
  } catch (error) {
    const current = error.code === "EDIT_CONFLICT" ? error.details?.current : null;
    if (!current) {
      showError(error);
      throw error;
    }
    state.grid.remove(key);
    state.grid.upsert(current);
    toast(t("live.movedByOther", { who: who(error.details.changedBy?.userId, error.details.changedBy) }));
  }
}

async function movePost(state, entry, date, time) {
  try {
    const scheduledAt = toUtc(date, time, state.grid.range.timezone);
    await api("PATCH", `/v1/calendars/${state.id}/posts/${entry.postId}`, { scheduledAt });
    toast(t("calendar.moved", { day: day(date), time: formatTime(time) }));
  } catch (error) {
    showError(error);
    throw error;
  } finally {
    reload(state).catch(() => {});
  }
}
