// The Media page (`#/media`): every upload with its picture (a video's poster frame), size,
// tags and where it is used; its alternative text and tags edited in place; search by words
// or a tag; delete, refused while entries still to go out use it (they are named).

import { api } from "./api.js";
import { h, fill, toast, showProblem, confirmAction } from "./ui.js";
import { t, number, formatZoned } from "./i18n.js";
import { thumbnail, remember, forget, uploadMedia, takePoster, clock } from "./media.js";
import { channelLabel } from "./platforms.js";

/** The filter the page shows (kept in the address: `#/media?q=…&tag=…`). */
function filterOf() {
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  return { q: query.get("q") ?? "", tag: query.get("tag") ?? "" };
}

function address({ q, tag }) {
  const query = new URLSearchParams();
  if (q) query.set("q", q);
  if (tag) query.set("tag", tag);
  const text = query.toString();
  return text ? `#/media?${text}` : "#/media";
}

export async function show(view) {
  const filter = filterOf();
  const search = h("input", { type: "search", id: "media-search", value: filter.q, placeholder: t("mediaPage.search"), "aria-label": t("mediaPage.search") });
  const form = h("form", { class: "row media-filter", role: "search", onsubmit: (event) => {
    event.preventDefault();
    location.hash = address({ q: search.value.trim(), tag: filter.tag });
  } }, search, h("button", { type: "submit", class: "secondary" }, t("mediaPage.find")));
  const picker = h("input", { type: "file", id: "media-upload", multiple: true, accept: "image/jpeg,image/png,image/webp,video/mp4", class: "sr-only", "aria-label": t("mediaPage.upload"), tabindex: "-1" });
  const add = h("button", { type: "button", id: "media-upload-open", "data-needs": "editor", onclick: () => picker.click() }, t("mediaPage.upload"));
  const usage = h("p", { class: "muted", id: "media-usage" });
  const chosen = filter.tag
    ? h("p", { id: "media-tag-filter" }, t("mediaPage.taggedWith", { tag: filter.tag }), " ",
      h("a", { href: address({ q: filter.q, tag: "" }) }, t("mediaPage.allTags")))
    : null;
  const grid = h("ul", { class: "library-grid", id: "media-library" });
  const more = h("div", { class: "row" });
  fill(view, h("div", { class: "row spread" }, h("h1", {}, t("mediaPage.title")), h("div", { class: "row" }, picker, add)),
    h("p", { class: "muted" }, t("mediaPage.intro")), form, chosen, usage, grid, more);
  picker.addEventListener("change", async () => {
    const files = [...picker.files];
    picker.value = "";
    for (const file of files) {
      try {
        const item = await uploadMedia(file);
        grid.prepend(card(item));
        grid.querySelector(".empty")?.remove();
      } catch (error) {
        showProblem(error);
      }
    }
  });
  const page = async (cursor) => {
    const query = new URLSearchParams();
    if (filter.q) query.set("q", filter.q);
    if (filter.tag) query.set("tag", filter.tag);
    if (cursor) query.set("cursor", cursor);
    const list = await api("GET", `/v1/media${query.size ? `?${query}` : ""}`);
    fill(usage, t("mediaPage.usage", { used: size(list.usedBytes), max: size(list.maxBytes) }));
    for (const item of list.items) {
      remember(item);
      grid.append(card(item));
    }
    if (!grid.children.length) {
      grid.append(h("li", { class: "empty muted" }, filter.q || filter.tag ? t("mediaPage.noneFound") : t("mediaPage.none")));
    }
    fill(more, list.nextCursor
      ? h("button", { class: "secondary", id: "media-more", onclick: () => page(list.nextCursor).catch(showProblem) }, t("mediaPage.more"))
      : null);
  };
  await page(null);
}

/** A size as people read it: KB under a mebibyte, MiB above. */
function size(bytes) {
  if (bytes < 1048576) return t("mediaPage.kb", { n: number(Math.max(1, Math.round(bytes / 1024))) });
  return t("mediaPage.mib", { n: number(Math.round((bytes / 1048576) * 10) / 10) });
}

/** What a medium is, in a line: its size, frame and length. */
function facts(item) {
  const parts = [size(item.bytes)];
  if (item.width && item.height) parts.push(`${item.width} × ${item.height}`);
  if (item.durationMs !== null && item.durationMs !== undefined) parts.push(clock(item.durationMs));
  return parts.join(" · ");
}

/** One medium's card: its picture, facts, tags, uses, alternative text and actions. */
function card(item) {
  const li = h("li", { class: "media-card panel", dataset: { media: item.id } });
  const render = (item) => {
    remember(item);
    const alt = h("textarea", { rows: 2, maxlength: 1000, class: "media-alt", "aria-label": t("mediaPage.altText") }, item.altText);
    const tags = h("input", { type: "text", class: "media-tags", value: item.tags.join(", "), "aria-label": t("mediaPage.tags"), placeholder: t("mediaPage.tagsHint") });
    const save = h("button", { class: "secondary media-save", type: "submit" }, t("common.save"));
    const edit = h("form", { class: "stack", "data-needs": "editor", onsubmit: async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        render(await api("PATCH", `/v1/media/${item.id}`, { altText: alt.value, tags: tags.value.split(",").map((tag) => tag.trim()).filter(Boolean) }));
        toast(t("mediaPage.saved"));
      } catch (error) {
        showProblem(error, { fields: { altText: alt, tags }, root: li });
        save.disabled = false;
      }
    } },
    h("label", {}, t("mediaPage.altText"), alt), h("label", {}, t("mediaPage.tags"), tags), h("div", { class: "row" }, save));
    const poster = item.kind === "video" && !item.posterUrl
      ? h("button", { class: "secondary media-poster", type: "button", onclick: async (event) => {
        event.target.disabled = true;
        const kept = await takePoster(item).catch(() => item);
        if (!kept.posterUrl) toast(t("mediaPage.noPoster"));
        render(kept);
      } }, t("mediaPage.takePoster"))
      : null;
    fill(li,
      h("div", { class: "media-picture" }, thumbnail(item.id, { class: "large" })),
      h("div", { class: "stack media-body" },
        h("div", {}, h("strong", { class: "media-name" }, item.fileName || t("mediaPage.unnamed"))),
        h("div", { class: "muted media-facts" }, facts(item)),
        item.tags.length ? h("ul", { class: "tags" }, item.tags.map((tag) => h("li", {}, h("a", { href: address({ q: "", tag }) }, tag)))) : null,
        uses(item), edit,
        h("div", { class: "row", "data-needs": "editor" }, poster,
          h("button", { class: "danger media-delete", type: "button", onclick: () => remove(item, li) }, t("mediaPage.delete")))));
  };
  render(item);
  return li;
}

/** Where `item` is used: its entries, each a link to its calendar. */
function uses(item) {
  if (!item.usedByCount) return h("p", { class: "muted media-uses" }, t("mediaPage.unused"));
  const more = item.usedByCount - item.usedBy.length;
  return h("details", { class: "media-uses" },
    h("summary", {}, t("mediaPage.usedBy", { count: item.usedByCount })),
    h("ul", {}, item.usedBy.map((use) => h("li", {},
      h("a", { href: `#/calendar/${use.calendarId}` }, use.title), " ",
      h("span", { class: "muted" }, `${channelLabel(use.channel)} · ${formatZoned(use.scheduledAt)}${use.published ? ` · ${t("mediaPage.published")}` : ""}`))),
    more > 0 ? h("li", { class: "muted" }, t("mediaPage.andMore", { count: more })) : null));
}

async function remove(item, li) {
  const go = await confirmAction({ title: t("mediaPage.deleteTitle", { name: item.fileName || t("mediaPage.unnamed") }), body: t("mediaPage.deleteBody"), confirm: t("mediaPage.delete") });
  if (!go) return;
  try {
    await api("DELETE", `/v1/media/${item.id}`);
    forget(item.id);
    li.remove();
    toast(t("mediaPage.deleted"));
  } catch (error) {
    if (error.code !== "MEDIA_IN_USE") return showProblem(error);
    const named = (error.details?.usedBy ?? []).map((use) => `“${use.title}” (${channelLabel(use.channel)}, ${formatZoned(use.scheduledAt)})`);
    li.querySelector(".media-refusal")?.remove();
    li.querySelector(".media-body").append(h("p", { class: "notice bad media-refusal", role: "alert" },
      t("mediaPage.inUse", { count: error.details?.usedByCount ?? named.length, entries: named.join(", ") })));
  }
}
