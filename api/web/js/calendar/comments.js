// An entry's comments, beside its composer: every member's and guest's, oldest first, one's
// own editable; "@Name" of a member tells them (the member's id goes with the comment). A
// comment made anywhere appears at once (`comment.added` on the live stream).

import { api, people, session } from "../api.js";
import { who } from "../people.js";
import { h, fill, toast, showProblem, confirmAction } from "../ui.js";
import { t, formatZoned } from "../i18n.js";

/** The members `text` mentions as `@Name` (their name or address), at most 20. */
export function mentioned(text) {
  const found = [];
  for (const [id, member] of people.byId) {
    if (id === session.user) continue;
    const names = [member.name, member.email, member.email?.split("@")[0]].filter(Boolean);
    if (names.some((name) => text.toLowerCase().includes(`@${name.toLowerCase()}`))) found.push(id);
  }
  return found.slice(0, 20);
}

/** The comments part of the entry dialog: `state` the calendar's, `current()` the entry. */
export function commentsPanel(state, current) {
  const list = h("ol", { class: "comment-list", id: "entry-comments-list" });
  const text = h("textarea", {
    id: "entry-comment-text", rows: 2, maxlength: 4000, "aria-label": t("comments.write"),
    placeholder: t("comments.placeholder"),
  });
  const problem = h("div", { id: "entry-comments-problem" });
  const send = h("button", { type: "button", class: "secondary", id: "entry-comment-send" }, t("comments.send"));
  const hint = h("p", { class: "hint" }, t("comments.mentionHint"));
  const el = h("section", { class: "comments-panel stack", id: "entry-comments", "aria-labelledby": "entry-comments-title" },
    h("h3", { id: "entry-comments-title" }, t("comments.title")), list, text, hint, h("div", { class: "row" }, send), problem);
  let shown = [];
  let entryId = null;
  const path = (id) => `/v1/calendars/${state.id}/entries/${id}/comments`;
  const render = () => {
    fill(list, ...shown.map((c) => item(c)));
    if (!shown.length) list.append(h("li", { class: "muted" }, t("comments.none")));
  };
  const item = (c) => {
    const mine = c.by && c.by === session.user;
    const body = h("p", { class: "comment-text" }, c.text);
    const edit = mine ? h("button", { type: "button", class: "link", onclick: () => editing(c, li) }, t("comments.edit")) : null;
    const remove = mine ? h("button", {
      type: "button", class: "link danger-link",
      onclick: async () => {
        if (!(await confirmAction({ title: t("comments.deleteTitle"), body: t("comments.deleteBody"), confirm: t("comments.delete") }))) return;
        try {
          await api("DELETE", `${path(c.entryId)}/${c.id}`);
          shown = shown.filter((x) => x.id !== c.id);
          render();
        } catch (error) {
          showProblem(error, { problem });
        }
      },
    }, t("comments.delete")) : null;
    const li = h("li", { class: "comment", dataset: { id: c.id } },
      h("p", { class: "comment-by" },
        h("strong", {}, c.by ? who(c.by) : c.guestName),
        c.by ? "" : h("span", { class: "badge" }, t("comments.guest")),
        h("span", { class: "muted" }, ` · ${formatZoned(c.createdAt)}${c.editedAt ? ` · ${t("comments.edited")}` : ""}`),
        edit, remove),
      body);
    return li;
  };
  const editing = (c, li) => {
    const box = h("textarea", { rows: 2, maxlength: 4000, value: c.text, "aria-label": t("comments.edit") });
    const save = h("button", { type: "button", class: "secondary" }, t("common.save"));
    const cancel = h("button", { type: "button", class: "link" }, t("common.cancel"));
    cancel.addEventListener("click", render);
    save.addEventListener("click", async () => {
      try {
        const saved = await api("PATCH", `${path(c.entryId)}/${c.id}`, { text: box.value, mentions: mentioned(box.value) });
        shown = shown.map((x) => (x.id === saved.id ? saved : x));
        render();
      } catch (error) {
        showProblem(error, { problem });
      }
    });
    li.replaceChildren(box, h("div", { class: "row" }, save, cancel));
    box.focus();
  };
  send.addEventListener("click", async () => {
    const entry = current();
    if (!entry?.id || !text.value.trim()) return;
    send.disabled = true;
    problem.replaceChildren();
    try {
      const made = await api("POST", path(entry.id), { text: text.value, mentions: mentioned(text.value) });
      if (!shown.some((c) => c.id === made.id)) shown.push(made);
      text.value = "";
      render();
      toast(t("comments.sent"));
    } catch (error) {
      showProblem(error, { problem });
    } finally {
      send.disabled = false;
    }
  });
  // A comment made elsewhere (a teammate, a guest through a link) while this entry is open.
  state.commentAdded = (change) => {
    if (!change.comment || change.entryId !== entryId) return;
    if (shown.some((c) => c.id === change.comment.id)) return;
    shown.push(change.comment);
    render();
  };
  state.commentChanged = (change) => {
    if (change.entryId !== entryId) return;
    shown = change.change === "deleted"
      ? shown.filter((c) => c.id !== change.commentId)
      : shown.map((c) => (c.id === change.comment?.id ? change.comment : c));
    render();
  };
  return {
    el,
    async show(entry) {
      entryId = entry.id;
      shown = [];
      text.value = "";
      problem.replaceChildren();
      render();
      try {
        await people.load();
        shown = (await api("GET", path(entry.id))).items;
        if (entryId === entry.id) render();
      } catch (error) {
        showProblem(error, { problem });
      }
    },
  };
}
