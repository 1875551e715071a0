// Publishing (seed 001): connected channels, a dry run per entry and channel with its
// reasons, then schedule or publish; the intents' statuses refresh while any is moving.

import { api, appConfig, session } from "./api.js";
import { h, field, fill, toast, day, when, showError, showProblem, explain, confirmAction, platformBadge } from "./ui.js";
import { t, has } from "./i18n.js";
import { channelLabel } from "./platforms.js";

const MOVING = new Set(["scheduled", "publishing", "unknown"]);
const STATUSES = ["dry_run", "scheduled", "publishing", "published", "draft_sent", "failed", "unknown", "unconfirmed", "cancelled"];
const meaning = (status) => t(`publishing.explain.${status}`);
/** The platforms Almanac publishes to (`name`, `label`), as the server's registry lists them. */
let platforms = [];
const platformName = channelLabel;
const publishesTo = (p) => platforms.some((x) => x.name === p);
/** Who a channel posts as, where its platform has more than one kind of author (the
 * server says: a member's profile, or a page they administer). */
export const authorKind = (c) =>
  c.authorKind === "organization" ? t("publishing.authorPage")
    : c.authorKind === "member" ? t("publishing.authorMember") : null;
let timer = null;

export function leave() {
  clearTimeout(timer);
  timer = null;
}

export async function show(view, [calendarId]) {
  leave();
  platforms = (await appConfig()).platforms ?? [];
  const channels = h("section", { class: "panel stack", id: "channels" });
  const main = h("div", { class: "stack", id: "publishing" });
  fill(view, h("h1", {}, t("publishing.title")), h("div", { class: "split" }, channels, main));
  await renderChannels(channels);
  const { items } = await api("GET", "/v1/calendars?limit=50");
  const picker = h("select", { id: "publish-calendar" },
    h("option", { value: "" }, t("publishing.chooseCalendar")),
    items.map((c) => h("option", { value: c.id, selected: c.id === calendarId }, c.name || t("calendar.untitled"))));
  picker.addEventListener("change", () => { location.hash = `#/publishing/${picker.value}`; });
  fill(main, h("div", { class: "panel" }, field(t("publishing.calendar"), picker)));
  if (calendarId) await renderCalendar(main, calendarId);
}

async function renderChannels(el) {
  const { items } = await api("GET", "/v1/channels");
  const platform = h("select", { name: "platform" }, platforms.map((p) => h("option", { value: p.name }, platformName(p.name))));
  const account = h("input", { name: "accountId", required: true });
  const token = h("input", { name: "accessToken", type: "password", required: true, autocomplete: "off" });
  const refresh = h("input", { name: "refreshToken", type: "password", autocomplete: "off" });
  const expires = h("input", { name: "expiresIn", type: "number", min: 1, value: 86400 });
  const problem = h("div");
  const form = h("form", { class: "stack", id: "connect-form" }, h("h3", {}, t("publishing.tokenTitle")),
    field(t("publishing.platform"), platform), field(t("publishing.accountId"), account), field(t("publishing.accessToken"), token),
    field(t("publishing.refreshToken"), refresh), field(t("publishing.expiresIn"), expires),
    h("button", { id: "connect" }, t("publishing.connect")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = { platform: platform.value, accountId: account.value.trim(), accessToken: token.value };
      if (refresh.value) body.refreshToken = refresh.value;
      if (expires.value) body.expiresIn = Number(expires.value);
      await api("POST", "/v1/channels", body);
      toast(t("publishing.connectedToast", { platform: platformName(platform.value) }));
      await renderChannels(el);
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { platform, accountId: account, accessToken: token, refreshToken: refresh, expiresIn: expires } });
    }
  });
  const oauthProblem = h("div");
  const startOauth = (name) => connectPlatform(name, oauthProblem);
  const oauth = h("div", { class: "stack", id: "connect-oauth" },
    h("div", { class: "row" }, platforms.map((p) =>
      h("button", { type: "button", id: `connect-${p.name}`, onclick: () => startOauth(p.name) }, t("publishing.connectWith", { platform: platformName(p.name) })))),
    oauthProblem);
  // One idea of an account: the accounts linked on the organic page are the same ones.
  // Without credentials an account is "not connected", with a Connect action; only a
  // connected one can be disconnected.
  const actions = (c) => {
    if (c.status === "connected") {
      return h("div", { class: "row" }, retryFailed(c), c.reconnectBy && publishesTo(c.platform)
        ? h("button", { type: "button", class: "link connect-account", onclick: () => startOauth(c.platform) }, t("publishing.connectAgain"))
        : null, h("button", {
        type: "button", class: "link", "aria-label": t("publishing.disconnectLabel", { platform: platformName(c.platform) }),
        onclick: async () => {
          const sure = await confirmAction({ title: t("confirm.disconnect", { platform: platformName(c.platform), account: c.handle ?? c.accountId }), body: t("confirm.disconnectBody"), confirm: t("publishing.disconnect") });
          if (!sure) return;
          try { await api("DELETE", `/v1/channels/${c.id}`); await renderChannels(el); } catch (e) { showError(e); }
        },
      }, t("publishing.disconnect")));
    }
    if (!publishesTo(c.platform)) return h("div", { class: "muted" }, t("errors.code.UNSUPPORTED_CHANNEL", { platform: platformName(c.platform) }));
    return h("button", { type: "button", class: "link connect-account", onclick: () => startOauth(c.platform) },
      c.status === "needs_reauth" ? t("publishing.connectAgain") : t("publishing.connect"));
  };
  fill(el, h("h2", {}, t("accounts.title")),
    h("p", { class: "muted" }, t("accounts.explain")),
    items.length ? h("ul", { class: "list", id: "accounts" }, items.map((c) => h("li", { dataset: { channel: c.platform, status: c.status } },
      platformBadge(c.platform), ` ${c.handle ?? c.accountId} `,
      authorKind(c) ? h("span", { class: "muted author-kind" }, `${authorKind(c)} `) : null,
      h("span", { class: `badge ${c.status === "connected" ? "ok" : c.status === "needs_reauth" ? "bad" : ""}` }, t(`channelStatus.${c.status}`)),
      c.statusReason ? h("div", { class: "muted" }, c.statusReason) : null,
      c.reconnectBy && c.status === "connected" ? h("span", { class: "badge warn reconnect-by" }, t("publishing.reconnectBy", { when: when(c.reconnectBy) })) : null,
      c.expiresAt && c.status === "connected" ? h("div", { class: "muted" }, t("publishing.tokenExpires", { when: when(c.expiresAt) })) : null,
      actions(c)))) : h("p", { class: "muted" }, t("publishing.noChannel")),
    oauth, form);
}

/** Retries, once each, what a refused login failed on a channel connected again. */
function retryFailed(c) {
  return h("button", {
    type: "button", class: "link retry-failed",
    onclick: async () => {
      try {
        const { retried, skipped } = await api("POST", `/v1/channels/${c.id}/retry-failed`);
        const unsure = skipped.filter((s) => s.reason === "NOT_CONFIRMED").length;
        toast(retried.length
          ? t("publishing.retriedFailed", { count: retried.length })
          : t("publishing.nothingToRetry"));
        if (unsure) toast(t("publishing.checkUnconfirmed", { count: unsure }));
      } catch (e) { showError(e); }
    },
  }, t("publishing.retryFailed"));
}

/** A choice of the account to post as, for each platform of the entries with several
 * connected (a LinkedIn member and their pages); the chosen channels' ids. */
function postAs(connected, entries) {
  const used = new Set(entries.map((e) => e.channel));
  const selects = [...new Set(connected.map((c) => c.platform))]
    .filter((p) => used.has(p) && connected.filter((c) => c.platform === p).length > 1)
    .map((p) => h("select", { id: `post-as-${p}`, name: "post-as" }, connected.filter((c) => c.platform === p).map((c) =>
      h("option", { value: c.id }, authorKind(c) ? `${c.handle ?? c.accountId} (${authorKind(c)})` : c.handle ?? c.accountId))));
  return {
    fields: selects.map((select) => field(t("publishing.postAs", { platform: platformName(select.id.slice("post-as-".length)) }), select)),
    chosen: () => selects.map((select) => select.value),
  };
}

async function renderCalendar(main, calendarId) {
  const [detail, { items: channelList }] = await Promise.all([
    api("GET", `/v1/calendars/${calendarId}`), api("GET", "/v1/channels")]);
  const accounts = postAs(channelList.filter((c) => c.status === "connected"), detail.entries);
  // Nothing is selected until the person chooses: publishing is not undone by a click.
  const boxes = detail.entries.map((e) => h("input", { type: "checkbox", value: e.id, checked: false, "aria-label": t("publishing.selectEntry", { channel: platformName(e.channel), day: day(e.date), title: e.title, caption: e.caption }) }));
  const table = h("div", { class: "table-wrap" }, h("table", { id: "entries" },
    h("thead", {}, h("tr", {}, h("th", {}, h("span", { class: "muted" }, t("publishing.publish"))), h("th", {}, t("publishing.entry")), h("th", {}, t("publishing.media")))),
    h("tbody", {}, detail.entries.map((e, i) => h("tr", { dataset: { entry: e.id, channel: e.channel } },
      h("td", {}, boxes[i]),
      h("td", {}, platformBadge(e.channel), ` ${day(e.date)} ${e.time.slice(0, 5)} · ${e.title} `,
        h("span", { class: "badge entry-status", dataset: { status: "unsent" } }, t("status.unsent")),
        h("div", { class: "muted" }, e.caption.length > 80 ? `${e.caption.slice(0, 80)}…` : e.caption)),
      h("td", { class: "media" }, mediaCell(e)))))));
  const rows = [...table.querySelectorAll("tbody tr")];
  // Filters and selection: what is shown, and what of it is chosen.
  const channels = [...new Set(detail.entries.map((e) => e.channel))];
  const byChannel = h("select", { id: "filter-channel" }, h("option", { value: "" }, t("publishing.allChannels")),
    channels.map((c) => h("option", { value: c }, platformName(c))));
  const readyOnly = h("input", { type: "checkbox", id: "filter-ready" });
  // Where each entry stands: not sent yet, or its latest publication's status.
  const STATUSES = ["unsent", "scheduled", "publishing", "published", "draft_sent", "failed", "unconfirmed"];
  const byStatus = h("select", { id: "filter-status" }, h("option", { value: "" }, t("publishing.allStatuses")),
    STATUSES.map((s) => h("option", { value: s }, t(`status.${s}`))));
  const statusOf = (e) => detail.statusByEntry?.get(e.id) ?? "unsent";
  const count = h("span", { id: "selected-count", class: "muted", "aria-live": "polite" });
  const counted = () => { count.textContent = t("publishing.selected", { count: boxes.filter((b) => b.checked).length }); };
  const visible = (i) => !rows[i].hidden;
  const filter = () => {
    detail.entries.forEach((e, i) => {
      rows[i].hidden = (byChannel.value && e.channel !== byChannel.value) || (readyOnly.checked && !e.mediaUrl)
        || (byStatus.value && statusOf(e) !== byStatus.value);
      if (rows[i].hidden) boxes[i].checked = false;
    });
    counted();
  };
  byChannel.addEventListener("change", filter);
  readyOnly.addEventListener("change", filter);
  byStatus.addEventListener("change", filter);
  // The intents' list tells each entry's status: shown in its row, and filtered on.
  detail.onStatuses = () => {
    detail.entries.forEach((e, i) => {
      const badge = rows[i].querySelector(".entry-status");
      const status = statusOf(e);
      badge.dataset.status = status;
      badge.textContent = t(`status.${status}`);
      badge.className = `badge entry-status ${status === "published" ? "ok" : ["failed", "unconfirmed"].includes(status) ? "bad" : ""}`;
    });
    filter();
  };
  boxes.forEach((b) => b.addEventListener("change", counted));
  const selectAll = h("button", { type: "button", class: "link", id: "select-all", onclick: () => { boxes.forEach((b, i) => { b.checked = visible(i); }); counted(); } }, t("publishing.selectAll"));
  const selectNone = h("button", { type: "button", class: "link", id: "select-none", onclick: () => { boxes.forEach((b) => { b.checked = false; }); counted(); } }, t("publishing.selectNone"));
  // One media address for every selected entry.
  const bulkMedia = h("input", { type: "url", id: "bulk-media", placeholder: "https://…" });
  const applyMedia = h("button", { type: "button", class: "secondary", id: "apply-media" }, t("publishing.applyMedia"));
  applyMedia.addEventListener("click", async () => {
    const chosen = detail.entries.filter((e, i) => boxes[i].checked);
    if (!chosen.length) return toast(t("publishing.selectOne"));
    try {
      for (const entry of chosen) {
        const saved = await api("PATCH", `/v1/calendars/${calendarId}/entries/${entry.id}`, { mediaUrl: bulkMedia.value.trim() });
        entry.mediaUrl = saved.mediaUrl;
        fill(rows[detail.entries.indexOf(entry)].querySelector(".media"), mediaCell(entry));
      }
      toast(t("publishing.mediaSet", { count: chosen.length }));
    } catch (error) {
      showProblem(error, { fields: { mediaUrl: bulkMedia } });
    }
  });
  counted();
  const mode = h("select", { id: "publish-mode" }, h("option", { value: "publish" }, t("publishing.modePublish")), h("option", { value: "draft" }, t("publishing.modeDraft")));
  const report = h("div", { id: "report" });
  const intents = h("div", { id: "intents" });
  const send = async (extra) => {
    const entryIds = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!entryIds.length) return toast(t("publishing.selectOne"));
    if (extra.when === "now") {
      const sure = await confirmAction({ title: t("confirm.publishNow", { count: entryIds.length }), body: t("confirm.publishNowBody"), confirm: t("publishing.publishNow") });
      if (!sure) return;
    }
    try {
      const chosen = accounts.chosen();
      const answer = await api("POST", `/v1/calendars/${calendarId}/publish`, { entryIds, mode: mode.value, ...(chosen.length ? { channels: chosen } : {}), ...extra });
      renderReport(report, answer, detail);
      await renderIntents(intents, calendarId, detail);
    } catch (error) { showError(error, report); }
  };
  fill(main, main.firstChild,
    h("section", { class: "panel stack" },
      h("h2", {}, detail.calendar.name || t("calendar.untitled")),
      detail.entries.length ? h("div", { class: "row", id: "entry-tools" }, selectAll, selectNone,
        field(t("publishing.channel"), byChannel), field(t("publishing.status"), byStatus),
        h("label", { class: "check" }, readyOnly, t("publishing.readyOnly"))) : null,
      detail.entries.length ? table : h("p", { class: "muted" }, t("publishing.noEntries")),
      detail.entries.length ? h("div", { class: "row" }, field(t("publishing.mediaForSelected"), bulkMedia), applyMedia) : null,
      // The actions stay in view however long the list.
      h("div", { class: "row action-bar" }, count, field(t("publishing.mode"), mode), ...accounts.fields,
        h("button", { type: "button", id: "dry-run", onclick: () => send({ dryRun: true }) }, t("publishing.dryRun")),
        h("button", { type: "button", id: "schedule-publish", class: "secondary", disabled: !session.publishing, "aria-describedby": session.publishing ? null : "publishing-off", onclick: () => send({ dryRun: false, when: "scheduled" }) }, t("publishing.schedule")),
        h("button", { type: "button", id: "publish-now", class: "secondary", disabled: !session.publishing, "aria-describedby": session.publishing ? null : "publishing-off", onclick: () => send({ dryRun: false, when: "now" }) }, t("publishing.publishNow"))),
      // While publishing is off, the buttons say why they do nothing.
      session.publishing ? null : h("p", { class: "notice warn", id: "publishing-off" }, t("errors.code.PUBLISH_DISABLED"))),
    report,
    h("section", { class: "panel stack" }, h("h2", {}, t("publishing.intents")), intents,
      h("details", {}, h("summary", {}, t("publishing.statusesMean")),
        h("dl", {}, STATUSES.map((k) => [h("dt", {}, h("strong", {}, t(`status.${k}`))), h("dd", {}, meaning(k))])))));
  await renderIntents(intents, calendarId, detail);
}

/** An entry's media: its address, or a warning that it has none. */
function mediaCell(entry) {
  return entry.mediaUrl ? h("span", { class: "muted" }, entry.mediaUrl) : h("span", { class: "badge warn" }, t("publishing.noMedia"));
}

const entryLabel = (detail, id) => {
  const e = detail.entries.find((x) => x.id === id);
  return e ? `${platformName(e.channel)} ${day(e.date)} · ${e.title}` : t("publishing.removedEntry");
};
const statusBadge = (s) => h("span", {
  class: `badge status ${["published", "draft_sent"].includes(s) ? "ok" : ["failed", "unconfirmed"].includes(s) ? "bad" : s === "dry_run" ? "" : "warn"}`,
  title: meaning(s),
}, t(`status.${s}`));
// Why the platform (or Almanac) refused an entry, in the app's words where it has them.
// (A platform's own refusal the app has no words for is told as the platform said it.)
const reason = (i) => {
  if (!i.error) return "";
  if (!has(`errors.code.${i.error.code}`) && i.error.message) return i.error.message;
  return explain({ ...i.error, details: { ...(i.error.details ?? {}), channel: i.channel } });
};

/** Starts connecting `platform` (its consent page); a refusal is said in `problem`. */
async function connectPlatform(platform, problem) {
  try {
    const { authorizeUrl } = await api("POST", `/v1/channels/${platform}/connect`);
    location.assign(authorizeUrl);
  } catch (error) {
    showError(error.code === "OAUTH_NOT_CONFIGURED"
      ? new Error(t("publishing.oauthNotConfigured", { platform: platformName(platform) }))
      : error, problem);
  }
}

/** The report in one line first: how many are ready, and how many stop for each reason. */
function summary(answer) {
  const reasons = new Map();
  const add = (text) => reasons.set(text, (reasons.get(text) ?? 0) + 1);
  let ready = 0;
  for (const i of answer.intents) {
    if (!i.error) ready += 1; else add(reason(i));
  }
  for (const r of answer.refused ?? []) add(explain({ code: r.code, details: { channel: r.channel } }));
  return h("div", { id: "report-summary", class: "stack" },
    h("p", {}, h("strong", {}, t("publishing.ready", { count: ready }))),
    reasons.size ? h("ul", {}, [...reasons].map(([text, n]) => h("li", {}, t("publishing.stopped", { count: n, reason: text })))) : null);
}

function renderReport(el, answer, detail) {
  const problem = h("div");
  fill(el, h("section", { class: "panel stack", id: "dry-run-report" },
    h("h2", {}, answer.dryRun ? t("publishing.dryRun") : t("publishing.sentTitle")),
    answer.reason ? h("p", { class: "notice warn", id: "report-reason" }, t(answer.dryRun ? "publishing.reasonDry" : "publishing.reason", { reason: answer.reason })) : null,
    // Entries the dry run could not plan (their channel has no account): each with Connect.
    (answer.refused ?? []).map((r) => h("article", { class: "card intent refused", dataset: { entry: r.entryId, channel: r.channel, code: r.code } },
      h("div", { class: "row" }, platformBadge(r.channel), entryLabel(detail, r.entryId)),
      h("p", { class: "reason" }, explain({ code: r.code, details: { channel: r.channel } })),
      r.code === "CHANNEL_NOT_CONNECTED" && publishesTo(r.channel)
        ? h("button", { type: "button", class: "link", onclick: () => connectPlatform(r.channel, problem) }, t("publishing.connectWith", { platform: platformName(r.channel) }))
        : null)),
    problem,
    answer.intents.map((i) => h("article", { class: "card intent", dataset: { entry: i.entryId, channel: i.channel, status: i.status } },
      h("div", { class: "row" }, statusBadge(i.status), platformBadge(i.channel), entryLabel(detail, i.entryId)),
      i.error ? h("p", { class: "reason" }, reason(i)) : null,
      // The requests a real publish would send, for whoever wants to check them.
      (i.payload?.requests ?? []).length ? h("details", { class: "requests" }, h("summary", {}, t("publishing.requests", { count: i.payload.requests.length })),
        h("ul", {}, i.payload.requests.map((r) => h("li", {}, `${r.method} ${r.url} `, h("span", { class: "badge" }, r.effect))))) : null))));
  el.querySelector("h2").after(summary(answer));
}

async function renderIntents(el, calendarId, detail) {
  clearTimeout(timer);
  let items;
  try {
    ({ items } = await api("GET", `/v1/publish-intents?calendarId=${calendarId}&limit=100`));
  } catch (error) { return showError(error, el); }
  if (!el.isConnected) return;
  const live = items.filter((i) => !i.dryRun);
  // Newest first: an entry's first live intent is where it stands now.
  detail.statusByEntry = new Map();
  for (const i of live) if (!detail.statusByEntry.has(i.entryId)) detail.statusByEntry.set(i.entryId, i.status);
  detail.onStatuses?.();
  fill(el, live.length ? h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, t("publishing.entry")), h("th", {}, t("publishing.channel")), h("th", {}, t("publishing.status")), h("th", {}, t("publishing.details")), h("th", {}, h("span", { class: "muted" }, t("publishing.actions"))))),
    h("tbody", {}, live.map((i) => h("tr", { class: "intent-row", dataset: { id: i.id, entry: i.entryId, channel: i.channel, status: i.status } },
      h("td", {}, entryLabel(detail, i.entryId)), h("td", {}, platformName(i.channel)), h("td", {}, statusBadge(i.status)),
      h("td", {}, i.publishAt && i.status === "scheduled" ? t("publishing.at", { when: when(i.publishAt) }) : "",
        i.remotePostId ? ` ${t("publishing.post", { id: i.remotePostId })}` : "", i.error ? h("div", { class: "reason" }, reason(i)) : null,
        i.status === "unconfirmed" ? h("div", { class: "notice warn" }, meaning("unconfirmed")) : null),
      h("td", {},
        i.status === "scheduled" ? h("button", { type: "button", class: "link", onclick: () => act("DELETE", `/v1/publish-intents/${i.id}`) }, t("common.cancel")) : null,
        ["failed", "unconfirmed"].includes(i.status) ? h("button", { type: "button", class: "link", onclick: () => act("POST", `/v1/publish-intents/${i.id}/retry`) }, t("publishing.retry")) : null))))))
    : h("p", { class: "muted" }, t("publishing.nothingYet")));
  async function act(method, path) {
    try { await api(method, path); } catch (error) { showError(error); }
    await renderIntents(el, calendarId, detail);
  }
  if (live.some((i) => MOVING.has(i.status))) timer = setTimeout(() => renderIntents(el, calendarId, detail), 1000);
}
