// Live counts of a post's text against its platform's limits, as a person types. The limits
// come from the server (`/app/config.json`: each platform's `textLimits`, from its adapter),
// and the text is counted as the server composes it: caption, call to action and hashtags,
// a blank line apart. Nothing here knows a platform's numbers.

import { appConfig } from "./api.js";
import { h } from "./ui.js";
import { t } from "./i18n.js";

/** `raw` as the server keeps a hashtag: `#` and the word, without spaces or other `#`. */
export function hashtag(raw) {
  const word = raw.trim().replace(/^#+/, "").replace(/[\s#]/g, "");
  return word ? `#${word}` : null;
}

/** The post's text as the server composes it (`post::compose`). */
export function compose(caption, callToAction, hashtags) {
  const tags = hashtags.map(hashtag).filter(Boolean).join(" ");
  return [caption.trim(), callToAction.trim(), tags.trim()].filter(Boolean).join("\n\n");
}

const EMOJI = /\p{Extended_Pictographic}/u;
const bytes = (text) => new TextEncoder().encode(text).length;

/** `text`'s length in a platform's unit. */
export function measure(text, unit) {
  switch (unit) {
    case "graphemes":
      return [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)].length;
    case "utf8Bytes":
      return bytes(text);
    case "charsEmojiBytes":
      return [...text].reduce((n, c) => n + (EMOJI.test(c) ? bytes(c) : 1), 0);
    default:
      return [...text].length;
  }
}

/** `photo` or `video`, as the server reads a post's format (`MediaKind::of_format`). */
function mediaKind(format, config) {
  const lower = String(format ?? "").toLowerCase();
  return (config.videoFormatWords ?? []).some((word) => lower.includes(word)) ? "video" : "photo";
}

/**
 * A live count for one platform: `read()` gives `{text, title}`, `format` the post's format
 * (which makes it a video or a photo post). Returns the element (empty for a platform
 * without limits) and `update()`, which also says whether the text is over a limit.
 */
export async function textCounter(platform, format, read) {
  const config = await appConfig();
  const media = mediaKind(format, config);
  const entry = (config.platforms ?? []).find((p) => p.name === platform);
  const limits = (entry?.textLimits ?? []).filter((limit) => !limit.media || limit.media === media);
  const el = h("p", { class: "counter hint", "aria-live": "polite", dataset: { platform } });
  const update = () => {
    const { text, title } = read();
    let over = false;
    const parts = limits.map((limit) => {
      const count = measure(limit.field === "title" ? title : text, limit.unit);
      const excess = count - limit.max;
      over ||= excess > 0;
      const params = { platform: entry.label, count, max: limit.max, excess };
      return h("span", { class: excess > 0 ? "bad" : "", dataset: { field: limit.field } },
        t(excess > 0 ? `limits.over.${limit.field}` : `limits.within.${limit.field}`, params));
    });
    el.replaceChildren(...parts.flatMap((part, i) => (i ? [" · ", part] : [part])));
    el.classList.toggle("over", over);
    el.hidden = limits.length === 0;
    return over;
  };
  update();
  return { el, update };
}
