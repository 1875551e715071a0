// Settings: what a person sets up once: the workspace's members and invitations (and new
// team workspaces), and the API keys that let a script, a CI job or an AI agent act in the
// workspace within the scopes they choose.

import { h, fill } from "../ui.js";
import { t } from "../i18n.js";
import { workspaces } from "../api.js";
import { apiKeys } from "./keys.js";
import { members } from "./members.js";

export async function show(view) {
  const team = members();
  const keys = apiKeys();
  const keysWhy = workspaces.may("admin") ? null
    : h("p", { class: "notice", id: "keys-why" }, t("members.needs", { role: t("roles.admin") }));
  fill(view, h("h1", {}, t("settings.title")), team.element, keysWhy, keys.element);
  await Promise.all([team.update(), keys.update()]);
}
