// One post for every network (docs/posts.md): pick the connected channels, write once, and
// each network's tab shows the post as it lays it out, counted against its own limits, the
// fields it says on its own and its review. Saved as one post (`POST` or `PATCH
// /v1/calendars/{id}/posts`), at the version read (a teammate's change meanwhile is shown,
// never overwritten); the calendar shows its entries as one chip.

import { api, ifMatch } from "../api.js";
import { accountName, channelLabel } from "../platforms.js";
import { h, field, toast, showProblem, clearProblems, guardUnsaved, words, platformBadge, confirmAction, fieldError, explain } from "../ui.js";
import { t } from "../i18n.js";
import { mediaField } from "./composer.js";
import { OWN_FIELDS, networkPanel } from "./network.js";
import { toUtc, inZone } from "./dates.js";
import { reload } from "./page.js";

/** "New post" in the calendar's toolbar. */
export function newPostButton(state) {
  return h("button", { type: "button", id: "new-post", "data-needs": "editor", onclick: () => state.openPost(null) }, t("posts.new"));
}

/** The post composer's dialog; `state.openPost(id)` opens a post (null: a new one). */
export function postComposer(state) {
  const composer = new Composer(state);
  state.openPost = (id) => composer.open(id);
  return composer.dialog;
}

/** The shared fields ("All networks"): the text, the media, the day and time. */
function sharedPanel(onChange) {
  const input = (name, attrs = {}) => h("input", { name, id: `post-${name}`, ...attrs });
  const fields = {
    caption: h("textarea", { name: "caption", id: "post-caption", rows: 5 }),
    title: input("title", { maxlength: 200, placeholder: t("posts.titleFromCaption") }),
    hashtags: input("hashtags"),
    callToAction: input("callToAction"),
    firstComment: h("textarea", { name: "firstComment", id: "post-firstComment", rows: 2 }),
    date: input("date", { type: "date", required: true }),
    time: input("time", { type: "time", required: true }),
  };
  const media = mediaField(onChange, { prefix: "post-media" });
  for (const name of OWN_FIELDS) fields[name].addEventListener("input", onChange);
  const el = h("section", { class: "stack", id: "post-panel-shared", role: "tabpanel", "aria-labelledby": "post-tab-shared" },
    field(t("posts.field.caption"), fields.caption), field(t("posts.field.title"), fields.title),
    field(t("calendar.hashtags"), fields.hashtags), field(t("posts.field.callToAction"), fields.callToAction),
    field(t("posts.field.firstComment"), fields.firstComment, h("span", { class: "hint" }, t("posts.firstCommentHint"))),
    media.el,
    h("div", { class: "row" }, field(t("calendar.date"), fields.date), field(t("calendar.time"), fields.time)),
    h("p", { class: "hint", id: "post-zone" }));
  return { el, fields, media };
}

class Composer {
  constructor(state) {
    this.state = state;
    // What is open: the post as last read (null: new), its ETag, the channels connected and
    // picked, each network's own values, the network panels drawn, the tab shown.
    this.post = null;
    this.etag = null;
    this.connected = [];
    this.picked = [];
    this.own = {};
    this.drawn = new Map();
    this.active = "shared";
    this.snapshot = "";
    this.shared = sharedPanel(() => this.sharedChanged());
    this.networks = h("fieldset", { class: "row networks", id: "post-networks" });
    this.tabs = h("div", { class: "post-tabs", role: "tablist", id: "post-tabs", "aria-label": t("posts.tabs") });
    this.tabs.addEventListener("keydown", (event) => this.arrowKeys(event));
    this.panels = h("div", { id: "post-panels" });
    this.problem = h("div", { id: "post-problem" });
    this.conflict = h("section", { class: "notice warn stack", id: "post-conflict", role: "alert", hidden: true });
    this.save = h("button", { type: "submit", id: "post-save" }, t("posts.save"));
    this.remove = h("button", { type: "button", class: "danger", id: "post-delete", hidden: true, onclick: () => this.delete() }, t("posts.delete"));
    const close = h("button", { type: "button", class: "secondary", id: "post-close" }, t("common.close"));
    this.heading = h("h2", { id: "post-heading" });
    this.form = h("form", { method: "dialog", class: "stack" }, this.heading, this.networks, this.tabs, this.shared.el,
      this.panels, this.conflict, this.problem, h("div", { class: "row" }, this.save, this.remove, close));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    this.dialog = h("dialog", { id: "post-composer", "aria-labelledby": "post-heading" }, this.form);
    guardUnsaved(this.dialog, () => this.snapshot !== "" && this.current() !== this.snapshot, close);
    this.dialog.addEventListener("close", () => { this.snapshot = ""; });
  }

  /** The shared fields as typed (the saved title when it was made from the caption). */
  sharedValues() {
    const f = this.shared.fields;
    return {
      caption: f.caption.value, title: f.title.value.trim() || this.post?.title || "",
      hashtags: f.hashtags.value, callToAction: f.callToAction.value, firstComment: f.firstComment.value,
      mediaIds: this.shared.media.ids(),
    };
  }

  /** What would be saved, to know whether anything was typed since. */
  current() {
    return JSON.stringify([this.picked, this.own, Object.values(this.shared.fields).map((f) => f.value), this.shared.media.ids()]);
  }

  sharedChanged() {
    for (const panel of this.drawn.values()) panel.sharedChanged();
    this.marks();
  }

  /** Each network's tab: how many fields it says on its own, and `!` when it is refused. */
  marks() {
    for (const id of this.picked) {
      const tab = this.tabs.querySelector(`#post-tab-${CSS.escape(id)}`);
      if (!tab) continue;
      const owned = Object.keys(this.own[id] ?? {}).length;
      tab.querySelector(".tab-own").textContent = owned ? t("posts.ownCount", { count: owned }) : "";
      const panel = this.drawn.get(id);
      tab.classList.toggle("over", Boolean(panel?.over()) || Boolean(panel?.problems));
    }
  }

  /** The tabs as a tab list: the arrow keys go from one to the next. */
  arrowKeys(event) {
    const all = [...this.tabs.querySelectorAll("[role=tab]")];
    const at = all.indexOf(document.activeElement);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (at < 0 || !step) return;
    event.preventDefault();
    const next = all[(at + step + all.length) % all.length];
    this.choose(next.dataset.tab);
    next.focus();
  }

  choose(tab) {
    this.active = tab;
    for (const b of this.tabs.querySelectorAll("[role=tab]")) {
      b.setAttribute("aria-selected", String(b.dataset.tab === tab));
      b.tabIndex = b.dataset.tab === tab ? 0 : -1;
    }
    this.shared.el.hidden = tab !== "shared";
    for (const [id, panel] of this.drawn) panel.el.hidden = id !== tab;
  }

  /** A tab and a panel for each network picked. */
  async drawNetworks() {
    const chosen = this.connected.filter((c) => this.picked.includes(c.id));
    const tab = (id, label, extra) => h("button", { type: "button", role: "tab", id: `post-tab-${id}`, dataset: { tab: id },
      "aria-controls": `post-panel-${id}`, onclick: () => this.choose(id) }, label, extra);
    this.tabs.replaceChildren(tab("shared", t("posts.allNetworks")),
      ...chosen.map((c) => tab(c.id, platformBadge(c.platform), h("span", { class: "tab-own" }))));
    this.drawn = new Map();
    const saved = new Map((this.post?.entries ?? []).map((e) => [e.entry.channelId, e]));
    for (const channel of chosen) {
      this.own[channel.id] ??= {};
      this.drawn.set(channel.id, await networkPanel({
        channel, shared: () => this.sharedValues(), own: this.own[channel.id], saved: saved.get(channel.id),
        onChange: () => this.marks(), openEntry: (entry) => this.openEntry(entry),
      }));
    }
    this.panels.replaceChildren(...[...this.drawn.values()].map((p) => p.el));
    this.choose(this.picked.includes(this.active) ? this.active : "shared");
    this.marks();
  }

  /** The connected channels to pick from, those picked ticked. */
  drawPicker() {
    const boxes = this.connected.map((c) => {
      const box = h("input", { type: "checkbox", value: c.id, checked: this.picked.includes(c.id), dataset: { platform: c.platform } });
      box.addEventListener("change", () => {
        this.picked = this.connected.filter((o) => (o.id === c.id ? box.checked : this.picked.includes(o.id))).map((o) => o.id);
        this.drawNetworks();
      });
      return h("label", { class: "check network-pick" }, box, platformBadge(c.platform), h("span", { class: "muted" }, accountName(c)));
    });
    const none = h("p", { class: "notice warn", id: "post-no-channels" }, t("posts.noChannels"), " ", h("a", { href: "#/publishing" }, t("posts.connect")));
    this.networks.replaceChildren(h("legend", {}, t("posts.networks")), ...(boxes.length ? boxes : [none]));
  }

  /** A network's entry in its own dialog (its review, its comments). */
  openEntry(entry) {
    this.dialog.close();
    this.state.openEditorWith(this.state.grid.get(entry.key) ?? entry);
  }

  /** The form filled from `read` (a post as the server answered it), or empty. */
  fillFrom(read) {
    this.post = read;
    const f = this.shared.fields;
    const zone = this.state.grid.range.timezone;
    f.caption.value = read?.caption ?? "";
    f.title.value = read && !read.titleFromCaption ? read.title : "";
    f.title.placeholder = read?.titleFromCaption ? read.title : t("posts.titleFromCaption");
    f.hashtags.value = (read?.hashtags ?? []).join(" ");
    f.callToAction.value = read?.callToAction ?? "";
    f.firstComment.value = read?.firstComment ?? "";
    this.shared.media.set(read?.mediaIds ?? []);
    const at = read ? inZone(read.scheduledAt, zone) : defaultSlot(this.state);
    f.date.value = at.date;
    f.time.value = at.time;
    this.picked = read ? [...read.channelIds] : [];
    this.own = {};
    for (const [channel, variant] of Object.entries(read?.variants ?? {})) {
      this.own[channel] = Object.fromEntries(Object.entries(variant).map(([k, v]) => [k, Array.isArray(v) ? v.join(" ") : v]));
    }
    this.dialog.querySelector("#post-zone").textContent = t("calendar.timesIn", { zone });
    this.heading.textContent = t(read ? "posts.editTitle" : "posts.newTitle");
    this.remove.hidden = !read;
    this.conflict.hidden = true;
    this.problem.replaceChildren();
    clearProblems(this.form);
  }

  /** The request: the shared fields, the channels, and each network's own fields (`null`
   * for one it no longer says on its own). */
  body() {
    const shared = this.sharedValues();
    const variants = {};
    for (const id of this.picked) {
      const mine = this.own[id] ?? {};
      const before = this.post?.variants?.[id] ?? {};
      const variant = {};
      for (const name of OWN_FIELDS) {
        if (mine[name] !== undefined) variant[name] = name === "hashtags" ? words(mine[name]) : mine[name];
        else if (before[name] !== undefined) variant[name] = null;
      }
      if (Object.keys(variant).length) variants[id] = variant;
    }
    const f = this.shared.fields;
    const body = {
      caption: shared.caption, hashtags: words(shared.hashtags), callToAction: shared.callToAction,
      firstComment: shared.firstComment, mediaIds: shared.mediaIds, channelIds: this.picked, variants,
      scheduledAt: toUtc(f.date.value, f.time.value.slice(0, 5), this.state.grid.range.timezone),
    };
    const title = f.title.value.trim();
    if (title) body.title = title;
    else if (this.post && !this.post.titleFromCaption) body.title = null;
    return body;
  }

  async submit() {
    if (!this.picked.length) return fieldError(this.networks, t("posts.pickOne"));
    this.save.disabled = true;
    clearProblems(this.form);
    this.problem.replaceChildren();
    const { id } = this.state;
    const path = this.post ? `/v1/calendars/${id}/posts/${this.post.id}` : `/v1/calendars/${id}/posts`;
    try {
      await this.settle(await api(this.post ? "PATCH" : "POST", path, this.body(), { etag: true, ...ifMatch(this.etag) }));
    } catch (error) {
      if (error.code === "EDIT_CONFLICT" && error.details?.current) this.showConflict(error.details);
      else this.refused(error);
    } finally {
      this.save.disabled = false;
    }
  }

  /** A refusal shown at its field: a network's own (`variants.<id>.<field>`) in its tab. */
  refused(error) {
    const [, id, name] = String(error.details?.field ?? "").match(/^variants\.([^.]+)\.(\w+)$/) ?? [];
    const control = id && this.panels.querySelector(`[name="${CSS.escape(`${name}-${id}`)}"]`);
    if (control) {
      this.choose(id);
      return fieldError(control, explain({ ...error, details: { ...error.details, field: name } }));
    }
    const { fields, media } = this.shared;
    showProblem(error, { problem: this.problem, fields: { ...fields, mediaIds: media.control, channelIds: this.networks } });
  }

  /** Saved: closed, unless a network would refuse the post (then its tab says why). */
  async settle({ data, etag }) {
    const wasNew = !this.post;
    this.etag = etag;
    this.fillFrom(data);
    await this.drawNetworks();
    this.snapshot = this.current();
    reload(this.state).catch(() => {});
    const refused = data.entries.filter((e) => e.sends?.problems?.length);
    if (!refused.length) {
      this.dialog.close("save");
      return toast(t(wasNew ? "posts.made" : "posts.saved", { count: data.entries.length }));
    }
    this.choose(refused[0].entry.channelId);
    this.problem.replaceChildren(h("p", { class: "notice warn", role: "status" },
      t("posts.savedWithProblems", { networks: refused.map((e) => channelLabel(e.entry.channel)).join(", ") })));
  }

  /** The post as it is now, with its `ETag`. */
  fresh() {
    return api("GET", `/v1/calendars/${this.state.id}/posts/${this.post.id}`, undefined, { etag: true });
  }

  /** A teammate changed the post since it was read: who and which networks, then Keep mine
   * (saved over theirs) or Take theirs (shown; what was typed is dropped). */
  showConflict(details) {
    const names = (details.current.entries ?? []).filter((e) => details.entryIds.includes(e.entry.id)).map((e) => channelLabel(e.entry.channel));
    const whom = details.changedBy?.name ?? details.changedBy?.email ?? t("live.someone");
    const keep = async () => {
      this.etag = (await this.fresh()).etag;
      this.conflict.hidden = true;
      this.form.requestSubmit(this.save);
    };
    const take = async () => {
      const read = await this.fresh();
      this.etag = read.etag;
      this.fillFrom(read.data);
      await this.drawNetworks();
      this.snapshot = this.current();
    };
    this.conflict.replaceChildren(
      h("p", {}, t(names.length ? "posts.conflictNetworks" : "posts.conflict", { who: whom, networks: names.join(", ") })),
      h("div", { class: "row" },
        h("button", { type: "button", id: "post-keep-mine", onclick: keep }, t("live.keepMine")),
        h("button", { type: "button", class: "secondary", id: "post-take-theirs", onclick: take }, t("live.takeTheirs"))));
    this.conflict.hidden = false;
  }

  async delete() {
    const go = await confirmAction({ title: t("posts.deleteTitle"), body: t("posts.deleteBody"), confirm: t("posts.delete") });
    if (!go) return;
    try {
      const done = await api("DELETE", `/v1/calendars/${this.state.id}/posts/${this.post.id}`);
      this.snapshot = "";
      this.dialog.close("delete");
      toast(t(done.kept.length ? "posts.deletedKept" : "posts.deleted", { count: done.deleted.length, kept: done.kept.length }));
      reload(this.state).catch(() => {});
    } catch (error) {
      showProblem(error, { problem: this.problem });
    }
  }

  /** Opens post `id` (null: a new one) with the workspace's connected channels to pick. */
  async open(id) {
    try {
      const [channels, read] = await Promise.all([
        api("GET", "/v1/channels"),
        id ? api("GET", `/v1/calendars/${this.state.id}/posts/${id}`, undefined, { etag: true }) : null,
      ]);
      this.connected = channels.items.filter((c) => c.status === "connected" || read?.data.channelIds.includes(c.id));
      this.etag = read?.etag ?? null;
      this.fillFrom(read?.data ?? null);
    } catch (error) {
      return showProblem(error);
    }
    this.active = "shared";
    this.drawPicker();
    await this.drawNetworks();
    this.dialog.returnValue = "";
    this.dialog.showModal();
    this.snapshot = this.current();
    (this.connected.length ? this.shared.fields.caption : this.networks).focus();
  }
}

/** Where a new post goes: the first planned time of the day shown (tomorrow when that has
 * passed), else 09:00. */
function defaultSlot(state) {
  const today = new Date().toISOString().slice(0, 10);
  const shown = state.grid.anchor ?? today;
  const date = shown > today ? shown : new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  return { date, time: state.grid.range.times[0] ?? "09:00" };
}
