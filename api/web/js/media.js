// The person's uploaded media (`/v1/media`): the newest page read once, and every upload
// since, by id, each with its signed address; what the composer picks from and what chips
// show as thumbnails (a video's poster frame, taken here in the browser from the video). An upload's file type and size are checked against what the server
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

/** Keeps `item` (as an answer gave it) for the page's lists. */
export const remember = (item) => known.set(item.id, item);

/** Forgets media `id` (deleted). */
export const forget = (id) => known.delete(id);

/** The address of a small picture of `item`: its JPEG copy where it has one. */
const thumbnailOf = (item) => (item.kind === "photo" ? item.jpegUrl ?? item.url : null);

/** A small picture of media `id`: a video's poster frame marked ▶ (the mark alone
 * without one), an empty box while it is not known. */
export function thumbnail(id, attrs = {}) {
  const item = mediaOf(id);
  const classes = (extra) => `thumb ${extra} ${attrs.class ?? ""}`.trim();
  if (!item) return h("span", { ...attrs, class: classes("unknown"), "aria-hidden": "true" });
  const src = thumbnailOf(item);
  const alt = item.altText || item.fileName;
  if (src) return h("img", { src, alt, loading: "lazy", ...attrs, class: classes("photo") });
  if (item.posterUrl) {
    return h("span", { ...attrs, class: classes("video poster"), role: "img", "aria-label": alt },
      h("img", { src: item.posterUrl, alt: "", loading: "lazy" }), h("span", { class: "play", "aria-hidden": "true" }, "▶"));
  }
  return h("span", { ...attrs, class: classes("video"), role: "img", "aria-label": alt }, "▶");
}

/** A video's length as people read it: `0:45`, `1:02:03`. */
export function clock(ms) {
  const secs = Math.floor(ms / 1000);
  const [hours, minutes, seconds] = [Math.floor(secs / 3600), Math.floor(secs / 60) % 60, secs % 60];
  const two = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

/** How long the browser may take to open a video for its poster frame. */
const POSTER_WAIT_MS = 15000;
/** A poster frame's widest side. */
const POSTER_WIDTH = 720;

/**
 * A frame of the video `source` (a `File`, or an address on this site) a second in (or a
 * tenth of a short one), as a JPEG at most 720 pixels wide; null where this browser
 * cannot play it.
 */
export async function posterFrame(source) {
  const local = source instanceof Blob;
  const address = local ? URL.createObjectURL(source) : source;
  const video = h("video", { muted: true, preload: "auto", playsinline: true });
  video.muted = true;
  const reached = (event) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the video did not open")), POSTER_WAIT_MS);
    video.addEventListener(event, () => { clearTimeout(timer); resolve(); }, { once: true });
    video.addEventListener("error", () => { clearTimeout(timer); reject(new Error("unplayable")); }, { once: true });
  });
  try {
    const opened = reached("loadeddata");
    video.src = address;
    await opened;
    // A recording still being written says no length (`Infinity`): its first frame then.
    const at = Number.isFinite(video.duration) ? Math.min(1, video.duration / 10) : 0;
    if (at > 0) {
      const sought = reached("seeked");
      video.currentTime = at;
      await sought;
    }
    if (!video.videoWidth || !video.videoHeight) return null;
    const scale = Math.min(1, POSTER_WIDTH / video.videoWidth);
    const canvas = h("canvas", { width: Math.round(video.videoWidth * scale), height: Math.round(video.videoHeight * scale) });
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.82));
  } catch {
    return null;
  } finally {
    video.removeAttribute("src");
    if (local) URL.revokeObjectURL(address);
  }
}

/** Takes the poster frame of the video `item` from `source` (its file, else its address)
 * and keeps it; the item as it is now (unchanged where the browser cannot play it). */
export async function takePoster(item, source = item.url) {
  const frame = await posterFrame(source);
  if (!frame) return item;
  const kept = await upload(`/v1/media/${item.id}/poster`, frame);
  known.set(kept.id, kept);
  return kept;
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
  // A video's poster frame, from the file still at hand (a failure leaves the ▶ mark).
  if (item.kind === "video") return takePoster(item, file).catch(() => item);
  return item;
}
