// The person's uploaded media (`/v1/media`): the newest page read once, and every upload
// since, by id, each with its signed address; what the composer picks from and what chips
// show as thumbnails. An upload's file type and size are checked against what the server
// takes (`/app/config.json`'s `mediaUploads`) before its bytes are sent.

import { api, appConfig, upload, ApiError } from "./api.js";
import { h } from "./ui.js";
import { t } from "./i18n.js";

const known = new Map();
let loaded = null;

/** The library's newest page, read once (again after a failure). */
export function loadMedia() {
  loaded ??= api("GET", "/v1/media")
    .then((list) => {
      for (const item of list.items) known.set(item.id, item);
      return list;
    })
    .catch((error) => {
      loaded = null;
      throw error;
    });
  return loaded;
}

/** Reads the media among `ids` this page does not know yet (what entries name, however
 * old), a hundred at a time. */
export async function ensureMedia(ids) {
  const unknown = [...new Set(ids)].filter((id) => !known.has(id));
  for (let i = 0; i < unknown.length; i += 100) {
    const query = unknown.slice(i, i + 100).map((id) => `ids=${id}`).join("&");
    const { items } = await api("GET", `/v1/media?${query}`);
    for (const item of items) known.set(item.id, item);
  }
}

/** What a platform receives of an entry naming `count` media, the first of `kind`: the
 * first only (the composer and the dry run say it alike). */
export const firstOnly = (platform, kind, count) =>
  t(`media.firstOnly.${kind === "video" ? "video" : "photo"}`, { platform, count: count - 1 });

/** A media item by id, when this page knows it. */
export const mediaOf = (id) => known.get(id);

/** Every media item this page knows, newest first. */
export const library = () => [...known.values()].sort((a, b) => b.id.localeCompare(a.id));

/** The address of a small picture of `item`: its JPEG copy where it has one. */
const thumbnailOf = (item) => (item.kind === "photo" ? item.jpegUrl ?? item.url : null);

/** A small picture of media `id`: a mark for a video, an empty box while it is not known. */
export function thumbnail(id, attrs = {}) {
  const item = mediaOf(id);
  const classes = (extra) => `thumb ${extra} ${attrs.class ?? ""}`.trim();
  if (!item) return h("span", { ...attrs, class: classes("unknown"), "aria-hidden": "true" });
  const src = thumbnailOf(item);
  if (src) return h("img", { src, alt: item.altText || item.fileName, loading: "lazy", ...attrs, class: classes("photo") });
  return h("span", { ...attrs, class: classes("video"), role: "img", "aria-label": item.altText || item.fileName }, "▶");
}

/**
 * Uploads `file` (with `altText`); the stored item. A file of a type the server names and
 * larger than it takes is refused here, as the server would (413 `MEDIA_TOO_LARGE`).
 */
export async function uploadMedia(file, altText = "") {
  const { mediaUploads = [] } = await appConfig();
  const type = mediaUploads.find((u) => u.mime === file.type);
  if (type && file.size > type.maxBytes) {
    throw new ApiError(413, "MEDIA_TOO_LARGE", "too large", { kind: type.kind, maxMiB: type.maxBytes / 1048576 });
  }
  const form = new FormData();
  if (altText) form.append("altText", altText);
  form.append("file", file, file.name);
  const item = await upload("/v1/media", form);
  known.set(item.id, item);
  return item;
}
