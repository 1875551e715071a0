// The entry dialog's composer parts: the entry's media (uploaded by drag and drop or from a
// file, or picked from the library; reordered by removing and adding), and a preview of the
// post as its platform lays it out (its media first, the text cut where the feed folds it
// behind "more", hashtags marked), kept current as the person types.

import { appConfig } from "../api.js";
import { channelLabel, colored, connectedChannels } from "../platforms.js";
import { h, fill, fieldError, explain, platformBadge, marked } from "../ui.js";
import { t } from "../i18n.js";
import { quotaNote } from "../quota.js";
import { firstOnly, library, loadMedia, mediaOf, thumbnail, uploadMedia } from "../media.js";

/** The most media an entry names (the server's `mediaIds` limit). */
const MOST_MEDIA = 10;

/**
 * The entry's media: the chosen items (each removable), a drop zone that uploads what is
 * dropped or chosen, and the library to pick from. `onChange()` follows every change;
 * `prefix` starts its elements' ids (two fields in one page each have their own).
 */
export function mediaField(onChange, { prefix = "media" } = {}) {
  let ids = [];
  const chosen = h("ul", { class: "media-chosen", id: `${prefix}-chosen`, "aria-live": "polite" });
  const file = h("input", { type: "file", id: `${prefix}-file`, accept: "image/jpeg,image/png,image/webp,video/mp4", class: "sr-only" });
  const status = h("span", { class: "muted", id: `${prefix}-status`, "aria-live": "polite" });
  const drop = h("div", { class: "media-drop", id: `${prefix}-drop`, tabindex: "0", role: "button", "aria-describedby": `${prefix}-status` },
    h("span", {}, t("composer.drop")), " ",
    h("label", { class: "link", for: `${prefix}-file` }, t("composer.chooseFile")), file);
  const picker = h("div", { class: "media-library", id: `${prefix}-library`, hidden: true });
  const pick = h("button", { type: "button", class: "secondary", id: `${prefix}-pick`, "aria-expanded": "false" }, t("composer.fromLibrary"));
  const fieldset = h("fieldset", { class: "media-field stack", id: `${prefix}-field` },
    h("legend", {}, t("composer.media")), chosen, drop, h("div", { class: "row" }, pick, status), picker);

  const render = () => {
    fill(chosen, ids.map((id, i) => h("li", { dataset: { id } },
      thumbnail(id),
      h("span", { class: "name" }, mediaOf(id)?.fileName ?? t("composer.media")),
      h("button", { type: "button", class: "link remove", "aria-label": t("composer.remove", { name: mediaOf(id)?.fileName ?? i + 1 }),
        onclick: () => { ids = ids.filter((other) => other !== id); render(); onChange(); } }, "×"))));
    drop.hidden = ids.length >= MOST_MEDIA;
  };
  const add = (id) => {
    if (ids.includes(id) || ids.length >= MOST_MEDIA) return;
    ids = [...ids, id];
    render();
    onChange();
  };
  const clearProblem = () => {
    fieldset.querySelector(":scope > .field-error")?.remove();
    drop.removeAttribute("aria-invalid");
  };
  const send = async (files) => {
    clearProblem();
    for (const one of files) {
      status.textContent = t("composer.uploading", { name: one.name });
      try {
        const item = await uploadMedia(one);
        add(item.id);
        status.textContent = t("composer.uploaded", { name: item.fileName });
      } catch (error) {
        status.textContent = "";
        fieldError(drop, `${one.name}: ${explain(error)}`);
        return;
      }
    }
  };
  file.addEventListener("change", () => { send([...file.files]); file.value = ""; });
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); file.click(); } });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    send([...(event.dataTransfer?.files ?? [])]);
  });
  pick.addEventListener("click", async () => {
    const open = picker.hidden;
    picker.hidden = !open;
    pick.setAttribute("aria-expanded", String(open));
    if (!open) return;
    fill(picker, h("p", { class: "muted" }, t("app.loading")));
    try {
      await loadMedia();
    } catch (error) {
      return fill(picker, h("p", { class: "notice bad" }, explain(error)));
    }
    const items = library();
    fill(picker, items.length
      ? h("ul", { class: "media-grid" }, items.map((item) => h("li", {},
        h("button", { type: "button", class: "media-item", dataset: { id: item.id }, "aria-label": t("composer.use", { name: item.fileName }),
          onclick: () => add(item.id) }, thumbnail(item.id), h("span", { class: "name" }, item.fileName)))))
      : h("p", { class: "muted" }, t("composer.libraryEmpty")));
  });
  return {
    el: fieldset,
    /** The control a refusal of `mediaIds` is shown at. */
    control: drop,
    ids: () => ids,
    set(next) {
      ids = [...(next ?? [])];
      clearProblem();
      status.textContent = "";
      picker.hidden = true;
      pick.setAttribute("aria-expanded", "false");
      render();
    },
  };
}

/**
 * The post as `channel` lays it out: the account line, the media first (every medium of a
 * carousel, in order, where the platform's catalogue entry has one; else the first), the
 * text cut where the feed folds it (`previewChars`), hashtags marked, and the first comment
 * under it. `read()` gives `{text, mediaIds, mediaUrl, firstComment?}`; `update()` redraws
 * it. `id` names the preview (and `<id>-text` its text, when not the entry dialog's).
 */
export async function postPreview(channel, read, { id = "entry-preview", accounts } = {}) {
  const config = await appConfig();
  // Its quota where it bites: each connected account of the platform (or the one given).
  const quotas = (accounts ?? await connectedOn(channel)).map((c) => quotaNote(c));
  const platform = (config.platforms ?? []).find((p) => p.name === channel);
  const textId = id === "entry-preview" ? "preview-text" : `${id}-text`;
  const el = h("section", colored(channel, { class: "post-preview", id, "aria-label": t("composer.previewOf", { platform: channelLabel(channel) }) }));
  const update = () => {
    const { text, mediaIds, mediaUrl, firstComment = "" } = read();
    const fold = platform?.previewChars ?? null;
    const chars = [...text];
    const cut = fold !== null && chars.length > fold;
    const shown = cut ? chars.slice(0, fold).join("").trimEnd() : text;
    fill(el,
      h("h3", {}, t("composer.preview")),
      h("div", { class: "preview-head" }, platformBadge(channel)),
      previewMedia(platform, mediaIds, mediaUrl),
      mediaNotice(platform, channel, mediaIds),
      h("p", { class: "preview-text", id: textId }, marked(shown),
        cut ? h("span", { class: "fold muted", dataset: { fold: String(fold) } }, t("composer.more")) : null),
      cut ? h("p", { class: "hint" }, t("composer.foldHint", { platform: channelLabel(channel), count: fold })) : null,
      previewComment(platform, channel, firstComment.trim()),
      ...quotas);
  };
  update();
  return { el, update };
}

/** The caller's accounts connected on `platform` (none when they cannot be read). */
const connectedOn = (platform) =>
  connectedChannels().then((list) => list.filter((c) => c.platform === platform), () => []);

/** The media a post of `platform` carries: a carousel's every medium up to its most, else
 * the first alone. */
function previewMedia(platform, mediaIds, mediaUrl) {
  if (!mediaIds.length) {
    return mediaUrl ? h("p", { class: "preview-media link-only muted" }, t("composer.mediaElsewhere"))
      : h("p", { class: "preview-media none muted" }, t("composer.noMedia"));
  }
  const carousel = platform?.carousel;
  if (!carousel || mediaIds.length === 1) {
    return h("div", { class: "preview-media" }, thumbnail(mediaIds[0], { class: "big" }));
  }
  const sent = mediaIds.slice(0, carousel.maxItems);
  return h("div", { class: "preview-media carousel", role: "list", "aria-label": t("composer.carousel", { count: sent.length }) },
    sent.map((mediaId, n) => h("span", { class: "slide", role: "listitem" }, thumbnail(mediaId),
      h("span", { class: "slide-number", "aria-hidden": "true" }, `${n + 1}/${sent.length}`))));
}

/** What the platform makes of several media: the first only where it has no carousel; too
 * many, or photos with a video where it does not mix them, refused. */
function mediaNotice(platform, channel, mediaIds) {
  if (mediaIds.length < 2) return null;
  const label = channelLabel(channel);
  const carousel = platform?.carousel;
  if (!carousel) {
    return h("p", { class: "notice warn", id: "first-media-only" }, firstOnly(label, mediaOf(mediaIds[0])?.kind, mediaIds.length));
  }
  if (mediaIds.length > carousel.maxItems) {
    return h("p", { class: "notice bad", id: "too-many-media" },
      t("composer.tooManyMedia", { platform: label, max: carousel.maxItems, count: mediaIds.length - carousel.maxItems }));
  }
  const kinds = new Set(mediaIds.map((mediaId) => mediaOf(mediaId)?.kind).filter(Boolean));
  if (!carousel.mixed && kinds.has("video")) {
    return h("p", { class: "notice bad", id: "media-mixed" }, t("composer.mediaMixed", { platform: label }));
  }
  return null;
}

/** The first comment under the post, or where the platform takes none, that it is left out. */
function previewComment(platform, channel, comment) {
  if (!comment) return null;
  if (platform && !platform.firstComment) {
    return h("p", { class: "hint preview-comment left-out" }, t("composer.commentLeftOut", { platform: channelLabel(channel) }));
  }
  return h("div", { class: "preview-comment" }, h("span", { class: "muted" }, t("composer.firstComment")), h("p", {}, marked(comment)));
}
