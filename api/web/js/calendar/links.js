// "Share for review": a review link for a client, who needs no account (docs/review.md,
// "Client review"). Made for some entries or a range of days, until a date, allowed to
// approve or not; its address is shown once, with Copy; each link can be revoked.

import { api } from "../api.js";
import { channelLabel } from "../platforms.js";
import { h, fill, field, check, toast, day, when, isoDay, showProblem, confirmAction, copyRow } from "../ui.js";
import { t } from "../i18n.js";

/** The button of a calendar's head that opens its review links. */
export function reviewLinksButton(state) {
  return h("button", {
    type: "button", class: "secondary", id: "review-links-open", "data-needs": "editor",
    onclick: () => open(state),
  }, t("links.open"));
}

function open(state) {
  const body = h("div", { class: "stack", id: "review-links" });
  const close = h("button", { type: "button", class: "secondary", id: "review-links-close" }, t("common.close"));
  const dialog = h("dialog", { id: "review-links-dialog", "aria-labelledby": "review-links-title" },
    h("div", { class: "stack" },
      h("h2", { id: "review-links-title" }, t("links.title")),
      h("p", { class: "muted" }, t("links.intro")), body, close));
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  render(state, body, null);
}

/** The form, the address just made (once), and the calendar's links. */
async function render(state, body, made) {
  // The calendar's saved entries as the server has them (the grid may still be loading).
  let entries = [];
  try {
    entries = (await api("GET", `/v1/calendars/${state.id}`)).entries ?? [];
  } catch (error) {
    showProblem(error);
  }
  entries.sort((a, b) => `${a.date}${a.time}`.localeCompare(`${b.date}${b.time}`));
  const dates = entries.map((e) => e.date);
  const byRange = h("input", { type: "radio", name: "linkScope", value: "range", id: "link-scope-range", checked: true });
  const byEntries = h("input", { type: "radio", name: "linkScope", value: "entries", id: "link-scope-entries" });
  const from = h("input", { type: "date", id: "link-from", value: dates[0] ?? isoDay(), required: true });
  const to = h("input", { type: "date", id: "link-to", value: dates.at(-1) ?? isoDay(7), required: true });
  const picks = entries.map((e) => check(`${day(e.date)} · ${channelLabel(e.channel)} · ${e.title}`, { value: e.id, name: "linkEntry" }));
  const range = h("div", { class: "row", id: "link-range" }, field(t("links.from"), from), field(t("links.to"), to));
  const chosen = h("fieldset", { class: "stack link-entries", id: "link-entries", hidden: true },
    h("legend", {}, t("links.entries")), picks.length ? picks : h("p", { class: "muted" }, t("links.noEntries")));
  const scope = () => { range.hidden = !byRange.checked; chosen.hidden = byRange.checked; };
  byRange.addEventListener("change", scope);
  byEntries.addEventListener("change", scope);
  const expires = h("input", { type: "date", id: "link-expires", value: isoDay(14), min: isoDay(1), max: isoDay(90), required: true });
  const approve = check(t("links.canApprove"), { id: "link-can-approve" });
  const label = h("input", { id: "link-label", maxlength: 80, placeholder: t("links.labelHint") });
  const problem = h("div", { id: "link-problem" });
  const form = h("form", { class: "stack panel", id: "link-form" },
    h("div", { class: "row", role: "radiogroup", "aria-label": t("links.scope") },
      h("label", { class: "check" }, byRange, t("links.byRange")),
      h("label", { class: "check" }, byEntries, t("links.byEntries"))),
    range, chosen,
    h("div", { class: "row" }, field(t("links.expires"), expires), field(t("links.label"), label)),
    approve, h("p", { class: "hint" }, t("links.approveHint")), problem,
    h("div", { class: "row" }, h("button", { type: "submit", id: "link-make" }, t("links.make"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const request = {
      expiresAt: new Date(`${expires.value}T23:59:00`).toISOString(),
      canApprove: approve.querySelector("input").checked,
      label: label.value.trim() || null,
    };
    if (byRange.checked) Object.assign(request, { from: from.value, to: to.value });
    else request.entryIds = picks.map((p) => p.querySelector("input")).filter((b) => b.checked).map((b) => b.value);
    try {
      const link = await api("POST", `/v1/calendars/${state.id}/review-links`, request);
      await render(state, body, link);
    } catch (error) {
      showProblem(error, { problem, root: form, fields: { from, to, expiresAt: expires, label, entryIds: chosen } });
    }
  });
  let links = [];
  try {
    links = (await api("GET", `/v1/calendars/${state.id}/review-links`)).items;
  } catch (error) {
    showProblem(error, { problem });
  }
  fill(body,
    made ? shownOnce(made) : null,
    form,
    h("h3", {}, t("links.existing")),
    links.length ? h("ul", { class: "link-list", id: "link-list" }, links.map((l) => linkItem(state, body, l)))
      : h("p", { class: "muted", id: "link-none" }, t("links.none")));
}

/** The address, this once, with Copy. */
function shownOnce(link) {
  return h("section", { class: "notice ok stack", role: "status", id: "link-made" },
    h("strong", {}, t("links.made", { count: link.entryIds.length })),
    h("p", {}, t("links.once")),
    copyRow({ label: t("links.address"), value: link.url, id: "link-url", copyId: "link-copy", copied: t("links.copied") }));
}

function linkItem(state, body, link) {
  const revoke = link.status === "active" ? h("button", {
    type: "button", class: "link danger-link", dataset: { link: link.id },
    onclick: async () => {
      const sure = await confirmAction({ title: t("links.revokeTitle"), body: t("links.revokeBody"), confirm: t("links.revoke") });
      if (!sure) return;
      try {
        await api("DELETE", `/v1/calendars/${state.id}/review-links/${link.id}`);
        toast(t("links.revoked"));
        await render(state, body, null);
      } catch (error) {
        showProblem(error);
      }
    },
  }, t("links.revoke")) : null;
  return h("li", { class: "row spread", dataset: { status: link.status } },
    h("span", {},
      h("strong", {}, link.label ?? t("links.unnamed")), " · ",
      t("links.holds", { count: link.entryIds.length }), " · ",
      t(link.canApprove ? "links.approves" : "links.comments"), " · ",
      h("span", { class: `badge ${link.status === "active" ? "ok" : ""}` }, t(`links.status.${link.status}`)), " ",
      h("span", { class: "muted" }, link.status === "active" ? t("links.until", { when: when(link.expiresAt) }) : "")),
    revoke);
}
