// Settings: what a person sets up once for their account. Today, the API keys that let a
// script, a CI job or an AI agent act for them within the scopes they choose.

import { h, fill } from "../ui.js";
import { t } from "../i18n.js";
import { apiKeys } from "./keys.js";

export async function show(view) {
  const keys = apiKeys();
  fill(view, h("h1", {}, t("settings.title")), keys.element);
  await keys.update();
}
