// Analytics: what worked. Each channel's posts, numbers and engagement rate over a period
// against the period before (`GET /v1/analytics/channels`), each post's latest numbers with
// a way to read them again now (`GET /v1/analytics/posts`, `POST .../refresh`), and a
// channel's best times to post as a week's heat map (`GET /v1/channels/{id}/best-times`).
// The charts are drawn here, as SVG.

import { api } from "./api.js";
import { h, fill, showError, platformBadge, refusal } from "./ui.js";
import { t, number, percent, formatDay, formatZoned } from "./i18n.js";
import { channelLabel, accountName } from "./platforms.js";

const SVG = "http://www.w3.org/2000/svg";
const PERIODS = [7, 30, 90];
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** An SVG element with its attributes. */
function svg(name, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** The period's first and last UTC days, `days` long and ending today. */
function period(days) {
  const to = new Date();
  const from = new Date(to);
  from.setUTCDate(from.getUTCDate() - (days - 1));
  const day = (d) => d.toISOString().slice(0, 10);
  return { from: day(from), to: day(to) };
}

export async function show(view) {
  let days = 30;
  const picker = h("div", { class: "row", role: "group", "aria-label": t("analytics.period") },
    PERIODS.map((n) => h("button", {
      type: "button", class: n === days ? "" : "secondary", dataset: { days: n },
      "aria-pressed": String(n === days),
      onclick: () => { days = n; load(); },
    }, t("analytics.lastDays", { days: n }))));
  const channels = h("section", { class: "panel stack", id: "analytics-channels" });
  const best = h("section", { class: "panel stack", id: "analytics-best" });
  const posts = h("section", { class: "panel stack", id: "analytics-posts" });
  fill(view, h("h1", {}, t("analytics.title")), h("p", { class: "muted" }, t("analytics.intro")),
    picker, channels, best, posts);
  const load = async () => {
    for (const button of picker.querySelectorAll("button")) {
      const on = Number(button.dataset.days) === days;
      button.className = on ? "" : "secondary";
      button.setAttribute("aria-pressed", String(on));
    }
    const { from, to } = period(days);
    try {
      const [summary, listed] = await Promise.all([
        api("GET", `/v1/analytics/channels?from=${from}&to=${to}`),
        api("GET", `/v1/analytics/posts?from=${from}&to=${to}`),
      ]);
      renderChannels(channels, summary);
      renderPosts(posts, listed.items, load);
      renderBest(best, summary.items);
    } catch (error) {
      showError(error, channels);
    }
  };
  await load();
}

function renderChannels(section, summary) {
  const items = summary.items;
  if (!items.length) {
    fill(section, h("h2", {}, t("analytics.channels")),
      h("p", { class: "muted", id: "analytics-no-channels" }, t("analytics.noChannels")));
    return;
  }
  const cards = items.map((c) => {
    const change = c.engagementRateChange;
    const trend = change === null ? null : h("span", {
      class: `trend ${change >= 0 ? "up" : "down"}`,
      title: t("analytics.changeHint", { from: formatDay(summary.previousFrom), to: formatDay(summary.previousTo) }),
    }, `${change >= 0 ? "▲" : "▼"} ${percent(Math.abs(change))}`);
    return h("li", { class: "stat-card", dataset: { channel: c.channelId } },
      h("div", { class: "row" }, platformBadge(c.platform), h("strong", {}, accountName(c))),
      h("p", { class: "stat" }, h("span", { class: "big" }, percent(c.current.engagementRate)), " ",
        h("span", { class: "muted" }, t("analytics.rate")), " ", trend),
      h("p", { class: "muted" }, t("analytics.postsCount", { posts: number(c.current.posts), measured: number(c.current.measured) })),
      c.analyticsProblem ? h("p", { class: "notice warn" }, t("analytics.reconnect"), " ",
        h("a", { href: "#/publishing" }, t("analytics.reconnectLink"))) : null);
  });
  fill(section, h("h2", {}, t("analytics.channels")),
    h("p", { class: "muted" }, t("analytics.between", { from: formatDay(summary.from), to: formatDay(summary.to) })),
    h("ul", { class: "stat-cards" }, cards), h("div", { class: "chart-wrap" }, rateChart(items)));
}

/** Each channel's engagement rate now (a bar) and in the period before (a tick). */
function rateChart(items) {
  const rated = items.filter((c) => c.current.engagementRate !== null || c.previous.engagementRate !== null);
  if (!rated.length) return null;
  const row = 28;
  const width = 600;
  const labelWidth = 150;
  const top = Math.max(0.0001, ...rated.flatMap((c) => [c.current.engagementRate ?? 0, c.previous.engagementRate ?? 0]));
  const scale = (rate) => ((rate ?? 0) / top) * (width - labelWidth - 60);
  const label = t("analytics.chart");
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${rated.length * row + 4}`, class: "chart rate-chart", role: "img",
    "aria-label": label, id: "analytics-chart",
  }, svg("title", {}, label));
  rated.forEach((c, i) => {
    const y = i * row + 4;
    const name = svg("text", { x: 0, y: y + 16, class: "chart-label" });
    name.textContent = accountName(c);
    const bar = svg("rect", { class: "bar", x: labelWidth, y, width: Math.max(1, scale(c.current.engagementRate)), height: row - 10 },
      svg("title", {}, `${accountName(c)}: ${percent(c.current.engagementRate)}`));
    const value = svg("text", { x: labelWidth + scale(c.current.engagementRate) + 6, y: y + 16, class: "chart-value" });
    value.textContent = percent(c.current.engagementRate);
    chart.append(name, bar, value);
    if (c.previous.engagementRate !== null) {
      const x = labelWidth + scale(c.previous.engagementRate);
      chart.append(svg("line", { class: "previous", x1: x, x2: x, y1: y - 2, y2: y + row - 8 },
        svg("title", {}, t("analytics.previousRate", { rate: percent(c.previous.engagementRate) }))));
    }
  });
  return chart;
}

function renderPosts(section, items, reload) {
  if (!items.length) {
    fill(section, h("h2", {}, t("analytics.posts")), h("p", { class: "muted", id: "analytics-no-posts" }, t("analytics.noPosts")));
    return;
  }
  const head = ["analytics.post", "analytics.published", "analytics.views", "analytics.likes",
    "analytics.comments", "analytics.shares", "analytics.rate", ""];
  const rows = items.map((p) => {
    const m = p.metrics ?? {};
    const refresh = h("button", {
      type: "button", class: "secondary small",
      onclick: async () => {
        refresh.disabled = true;
        try {
          await api("POST", `/v1/analytics/posts/${p.intentId}/refresh`);
          refresh.textContent = t("analytics.refreshing");
          setTimeout(reload, 1500);
        } catch (error) {
          refresh.disabled = false;
          showError(error, section);
        }
      },
    }, t("analytics.refresh"));
    const title = p.postUrl
      ? h("a", { href: p.postUrl, target: "_blank", rel: "noopener" }, p.title ?? t("analytics.untitled"))
      : (p.title ?? t("analytics.untitled"));
    const read = p.reading ? t(`analytics.reading.${p.reading}`) : t("analytics.notRead");
    return h("tr", { dataset: { intent: p.intentId } },
      h("td", { class: "post" }, h("div", { class: "row" }, platformBadge(p.channel), h("span", {}, title)),
        h("small", { class: "muted" }, p.problem ? h("span", { class: "warn" }, refusal(p.problem, p.channel)) : read)),
      h("td", {}, formatZoned(p.publishedAt)),
      ...["views", "likes", "comments", "shares"].map((k) => h("td", { class: "num" }, m[k] === null || m[k] === undefined ? "–" : number(m[k]))),
      h("td", { class: "num rate" }, percent(p.engagementRate)),
      h("td", {}, refresh));
  });
  fill(section, h("h2", {}, t("analytics.posts")),
    h("div", { class: "table-wrap" }, h("table", { id: "analytics-post-table" },
      h("thead", {}, h("tr", {}, head.map((k) => h("th", { scope: "col" }, k ? t(k) : "")))),
      h("tbody", {}, rows))));
}

/** A channel's best times as a week's heat map, for the channel chosen. */
function renderBest(section, channels) {
  if (!channels.length) {
    fill(section);
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const choice = h("select", { id: "best-channel", "aria-label": t("analytics.bestChannel") },
    channels.map((c) => h("option", { value: c.channelId }, `${channelLabel(c.platform)} · ${accountName(c)}`)));
  const map = h("div", { id: "best-map" });
  const draw = async () => {
    try {
      const best = await api("GET", `/v1/channels/${choice.value}/best-times`);
      fill(map, heatMap(best));
    } catch (error) {
      showError(error, map);
    }
  };
  choice.onchange = draw;
  fill(section, h("h2", {}, t("analytics.best")),
    h("label", { class: "row" }, h("span", {}, t("analytics.bestChannel")), choice), map);
  draw();
}

/** The 168 hours of a week, darker where posts did better. */
export function heatMap(best) {
  const cell = 20;
  const left = 44;
  const top = 18;
  const rates = best.hours.map((x) => x.rate);
  const high = Math.max(...rates);
  const low = Math.min(...rates);
  const label = t("analytics.heatMap");
  const chart = svg("svg", {
    viewBox: `0 0 ${left + 24 * cell} ${top + 7 * cell}`, class: "chart heat-map", role: "img",
    "aria-label": label, id: "heat-map",
  }, svg("title", {}, label));
  for (let hour = 0; hour < 24; hour += 3) {
    const text = svg("text", { x: left + hour * cell + 2, y: 12, class: "chart-label" });
    text.textContent = `${String(hour).padStart(2, "0")}h`;
    chart.append(text);
  }
  WEEKDAYS.forEach((day, row) => {
    const text = svg("text", { x: 0, y: top + row * cell + 14, class: "chart-label" });
    text.textContent = t(`slots.day.${day}`);
    chart.append(text);
  });
  const topFew = new Set(best.hours.slice(0, 5).map((x) => `${x.weekday}-${x.hour}`));
  for (const x of best.hours) {
    const strength = high > low ? (x.rate - low) / (high - low) : 0.5;
    const row = WEEKDAYS.indexOf(x.weekday);
    const rect = svg("rect", {
      x: left + x.hour * cell + 1, y: top + row * cell + 1, width: cell - 2, height: cell - 2, rx: 3,
      class: topFew.has(`${x.weekday}-${x.hour}`) ? "heat best" : "heat",
      // A presentation attribute, not a style: the page's policy allows no inline style.
      "fill-opacity": (0.08 + 0.92 * strength).toFixed(2),
    }, svg("title", {}, `${t(`slots.day.${x.weekday}`)} ${String(x.hour).padStart(2, "0")}:00 · ${best.source === "history" ? percent(x.rate) : t("analytics.score", { score: number(x.rate) })}`));
    rect.dataset.weekday = x.weekday;
    rect.dataset.hour = x.hour;
    chart.append(rect);
  }
  const source = best.source === "history"
    ? t("analytics.fromHistory", { posts: number(best.posts), zone: best.timezone })
    : t("analytics.fromDefaults", { posts: number(best.posts), zone: best.timezone });
  return h("div", { class: "stack" }, h("p", { class: "muted", id: "best-source", dataset: { source: best.source } }, source),
    h("div", { class: "chart-wrap" }, chart));
}
