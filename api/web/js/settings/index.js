// Settings: what a person sets up once: the workspace's members and invitations (and new
// team workspaces), and the API keys that let a script, a CI job or an AI agent act in the
// workspace within the scopes they choose; review before publishing, the workspace's and each
// channel's policy (`#/settings/review`); and the workspace's activity, who changed what
// (`#/settings/activity`).

import { h, fill } from "../ui.js";
import { t } from "../i18n.js";
import { workspaces } from "../api.js";
import { activity } from "./activity.js";
import { apiKeys } from "./keys.js";
import { members } from "./members.js";
import { reviewSettings } from "./review.js";

export async function show(view, [tab] = []) {
  const tabs = h("nav", { class: "tabs", id: "settings-tabs", "aria-label": t("settings.sections") },
    [["", "settings.tabTeam"], ["review", "settings.tabReview"], ["activity", "settings.tabActivity"]].map(([name, label]) =>
      h("a", { href: name ? `#/settings/${name}` : "#/settings", "aria-current": (tab ?? "") === name ? "page" : null }, t(label))));
  if (tab === "review") {
    const policies = reviewSettings();
    fill(view, h("h1", {}, t("settings.title")), tabs, policies.element);
    await policies.update();
    return;
  }
  if (tab === "activity") {
    const changes = activity();
    fill(view, h("h1", {}, t("settings.title")), tabs, changes.element);
    await changes.update();
    return;
  }
  const team = members();
  const keys = apiKeys();
  const keysWhy = workspaces.may("admin") ? null
    : h("p", { class: "notice", id: "keys-why" }, t("members.needs", { role: t("roles.admin") }));
  fill(view, h("h1", {}, t("settings.title")), tabs, team.element, keysWhy, keys.element);
  await Promise.all([team.update(), keys.update()]);
}
