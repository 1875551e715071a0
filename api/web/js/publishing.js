// Publishing (seed 001): connected channels, a dry run per entry and channel with its
// reasons, then schedule or publish; the intents' statuses refresh while any is moving.

import { api } from "./api.js";
import { h, field, check, fill, toast, day, when, showError } from "./ui.js";

const MOVING = new Set(["scheduled", "publishing", "unknown"]);
const EXPLAIN = {
  dry_run: "A dry run: nothing was sent. These are the requests a real publish would send.",
  scheduled: "Waiting for the entry's time.",
  publishing: "Being sent to the platform.",
  published: "Live on the platform.",
  draft_sent: "Sent to the TikTok inbox: finish the post in the app.",
  failed: "The platform refused it; the reason says why.",
  unknown: "The platform's answer was lost; Almanac only checks (it never sends twice).",
  unconfirmed: "The platform never confirmed the post. Check the account before retrying: if it is there, do not retry.",
  cancelled: "Cancelled before it was sent.",
};
let timer = null;

export function leave() {
  clearTimeout(timer);
  timer = null;
}

export async function show(view, [calendarId]) {
  leave();
  const channels = h("section", { class: "panel stack", id: "channels" });
  const main = h("div", { class: "stack", id: "publishing" });
  fill(view, h("h1", {}, "Publishing"), h("div", { class: "split" }, channels, main));
  await renderChannels(channels);
  const { items } = await api("GET", "/v1/calendars?limit=50");
  const picker = h("select", { id: "publish-calendar" },
    h("option", { value: "" }, "Choose a calendar"),
    items.map((c) => h("option", { value: c.id, selected: c.id === calendarId }, c.name || c.id)));
  picker.addEventListener("change", () => { location.hash = `#/publishing/${picker.value}`; });
  fill(main, h("div", { class: "panel" }, field("Calendar", picker)));
  if (calendarId) await renderCalendar(main, calendarId);
}

async function renderChannels(el) {
  const { items } = await api("GET", "/v1/channels");
  const platform = h("select", { name: "platform" }, ["tiktok", "instagram"].map((p) => h("option", { value: p }, p)));
  const account = h("input", { name: "accountId", required: true });
  const token = h("input", { name: "accessToken", type: "password", required: true, autocomplete: "off" });
  const refresh = h("input", { name: "refreshToken", type: "password", autocomplete: "off" });
  const expires = h("input", { name: "expiresIn", type: "number", min: 1, value: 86400 });
  const problem = h("div");
  const form = h("form", { class: "stack", id: "connect-form" }, h("h3", {}, "Or connect with a token you already hold"),
    field("Platform", platform), field("Account id", account), field("Access token", token),
    field("Refresh token (optional)", refresh), field("Expires in (seconds)", expires),
    h("button", { id: "connect" }, "Connect"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = { platform: platform.value, accountId: account.value.trim(), accessToken: token.value };
      if (refresh.value) body.refreshToken = refresh.value;
      if (expires.value) body.expiresIn = Number(expires.value);
      await api("POST", "/v1/channels", body);
      toast(`${platform.value} connected`);
      await renderChannels(el);
    } catch (error) { showError(error, problem); }
  });
  const oauthProblem = h("div");
  const startOauth = async (name) => {
    try {
      const { authorizeUrl } = await api("POST", `/v1/channels/${name}/connect`);
      location.assign(authorizeUrl);
    } catch (error) {
      showError(error.code === "OAUTH_NOT_CONFIGURED"
        ? new Error(`Connecting with ${name === "tiktok" ? "TikTok" : "Instagram"} is not set up on this server: paste a token below instead.`)
        : error, oauthProblem);
    }
  };
  const oauth = h("div", { class: "stack", id: "connect-oauth" },
    h("div", { class: "row" },
      h("button", { type: "button", id: "connect-tiktok", onclick: () => startOauth("tiktok") }, "Connect with TikTok"),
      h("button", { type: "button", id: "connect-instagram", onclick: () => startOauth("instagram") }, "Connect with Instagram")),
    oauthProblem);
  fill(el, h("h2", {}, "Channels"),
    items.length ? h("ul", { class: "list" }, items.map((c) => h("li", { dataset: { channel: c.platform } },
      h("strong", {}, c.platform), ` ${c.handle ?? c.accountId} `,
      h("span", { class: `badge ${c.status === "connected" ? "ok" : "bad"}` }, c.status),
      c.statusReason ? h("div", { class: "muted" }, c.statusReason) : null,
      c.expiresAt ? h("div", { class: "muted" }, `token expires ${when(c.expiresAt)}`) : null,
      h("button", {
        type: "button", class: "link", "aria-label": `Disconnect ${c.platform}`,
        onclick: async () => { try { await api("DELETE", `/v1/channels/${c.id}`); await renderChannels(el); } catch (e) { showError(e); } },
      }, "Disconnect")))) : h("p", { class: "muted" }, "No channel connected."),
    oauth, form);
}

async function renderCalendar(main, calendarId) {
  const detail = await api("GET", `/v1/calendars/${calendarId}`);
  const boxes = detail.entries.map((e) => h("input", { type: "checkbox", value: e.id, checked: true, "aria-label": `Select ${e.channel} ${e.date} ${e.title}: ${e.caption}` }));
  const table = h("div", { class: "table-wrap" }, h("table", { id: "entries" },
    h("thead", {}, h("tr", {}, h("th", {}, h("span", { class: "muted" }, "Publish")), h("th", {}, "Entry"), h("th", {}, "Media"))),
    h("tbody", {}, detail.entries.map((e, i) => h("tr", {},
      h("td", {}, boxes[i]),
      h("td", {}, h("span", { class: "badge" }, e.channel), ` ${day(e.date)} ${e.time.slice(0, 5)} · ${e.title}`,
        h("div", { class: "muted" }, e.caption.length > 80 ? `${e.caption.slice(0, 80)}…` : e.caption)),
      h("td", {}, e.mediaUrl ? h("span", { class: "muted" }, e.mediaUrl) : h("span", { class: "badge warn" }, "no media")))))));
  const mode = h("select", { id: "publish-mode" }, h("option", { value: "publish" }, "publish"), h("option", { value: "draft" }, "draft (TikTok inbox)"));
  const report = h("div", { id: "report" });
  const intents = h("div", { id: "intents" });
  const send = async (extra) => {
    const entryIds = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!entryIds.length) return toast("Select at least one entry.");
    try {
      const answer = await api("POST", `/v1/calendars/${calendarId}/publish`, { entryIds, mode: mode.value, ...extra });
      renderReport(report, answer, detail);
      await renderIntents(intents, calendarId, detail);
    } catch (error) { showError(error, report); }
  };
  fill(main, main.firstChild,
    h("section", { class: "panel stack" },
      h("h2", {}, detail.calendar.name || "Calendar"),
      detail.entries.length ? table : h("p", { class: "muted" }, "No entries."),
      h("div", { class: "row" }, field("Mode", mode),
        h("button", { type: "button", id: "dry-run", onclick: () => send({ dryRun: true }) }, "Dry run"),
        h("button", { type: "button", id: "schedule-publish", class: "secondary", onclick: () => send({ dryRun: false, when: "scheduled" }) }, "Schedule at the entries' times"),
        h("button", { type: "button", id: "publish-now", class: "secondary", onclick: () => send({ dryRun: false, when: "now" }) }, "Publish now"))),
    report,
    h("section", { class: "panel stack" }, h("h2", {}, "Publish intents"), intents,
      h("details", {}, h("summary", {}, "What the statuses mean"),
        h("dl", {}, Object.entries(EXPLAIN).map(([k, v]) => [h("dt", {}, h("strong", {}, k)), h("dd", {}, v)])))));
  await renderIntents(intents, calendarId, detail);
}

const entryLabel = (detail, id) => {
  const e = detail.entries.find((x) => x.id === id);
  return e ? `${e.channel} ${day(e.date)} · ${e.title}` : id;
};
const statusBadge = (s) => h("span", {
  class: `badge status ${["published", "draft_sent"].includes(s) ? "ok" : ["failed", "unconfirmed"].includes(s) ? "bad" : s === "dry_run" ? "" : "warn"}`,
  title: EXPLAIN[s] ?? "",
}, s);
const reason = (i) => (i.error ? `${i.error.code}: ${i.error.message ?? ""}` : "");

function renderReport(el, answer, detail) {
  fill(el, h("section", { class: "panel stack", id: "dry-run-report" },
    h("h2", {}, answer.dryRun ? "Dry run" : "Sent"),
    answer.reason ? h("p", { class: "notice warn", id: "report-reason" }, `${answer.reason}: ${answer.dryRun ? "nothing was sent." : ""}`) : null,
    answer.intents.map((i) => h("article", { class: "card intent", dataset: { entry: i.entryId, channel: i.channel, status: i.status } },
      h("div", { class: "row" }, statusBadge(i.status), h("strong", {}, i.channel), entryLabel(detail, i.entryId)),
      i.error ? h("p", { class: "reason" }, reason(i)) : null,
      (i.payload?.requests ?? []).length ? h("ul", {}, i.payload.requests.map((r) => h("li", {}, `${r.method} ${r.url} `, h("span", { class: "badge" }, r.effect)))) : null))));
}

async function renderIntents(el, calendarId, detail) {
  clearTimeout(timer);
  let items;
  try {
    ({ items } = await api("GET", `/v1/publish-intents?calendarId=${calendarId}&limit=100`));
  } catch (error) { return showError(error, el); }
  if (!el.isConnected) return;
  const live = items.filter((i) => !i.dryRun);
  fill(el, live.length ? h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "Entry"), h("th", {}, "Channel"), h("th", {}, "Status"), h("th", {}, "Details"), h("th", {}, ""))),
    h("tbody", {}, live.map((i) => h("tr", { class: "intent-row", dataset: { id: i.id, entry: i.entryId, channel: i.channel, status: i.status } },
      h("td", {}, entryLabel(detail, i.entryId)), h("td", {}, i.channel), h("td", {}, statusBadge(i.status)),
      h("td", {}, i.publishAt && i.status === "scheduled" ? `at ${when(i.publishAt)}` : "",
        i.remotePostId ? ` post ${i.remotePostId}` : "", i.error ? h("div", { class: "reason" }, reason(i)) : null,
        i.status === "unconfirmed" ? h("div", { class: "notice warn" }, EXPLAIN.unconfirmed) : null),
      h("td", {},
        i.status === "scheduled" ? h("button", { type: "button", class: "link", onclick: () => act("DELETE", `/v1/publish-intents/${i.id}`) }, "Cancel") : null,
        ["failed", "unconfirmed"].includes(i.status) ? h("button", { type: "button", class: "link", onclick: () => act("POST", `/v1/publish-intents/${i.id}/retry`) }, "Retry") : null))))))
    : h("p", { class: "muted" }, "Nothing scheduled or sent yet."));
  async function act(method, path) {
    try { await api(method, path); } catch (error) { showError(error); }
    await renderIntents(el, calendarId, detail);
  }
  if (live.some((i) => MOVING.has(i.status))) timer = setTimeout(() => renderIntents(el, calendarId, detail), 1000);
}
