// The person's profile (`#/profile`): their name, the address they sign in with (proven,
// not editable), the app's language and the time zone it shows times in, kept on their
// account (`PATCH /v1/me`) so every browser they sign in from shows the same.

import { api, account } from "./api.js";
import { h, field, fill, toast, showError, timeZonePicker } from "./ui.js";
import { t, lang, languages, choose, readerZone, useZone } from "./i18n.js";

export async function show(view) {
  const me = await account.load();
  const name = h("input", { id: "profile-name", name: "name", maxlength: 100, value: me.name ?? "", autocomplete: "name" });
  const language = h("select", { id: "profile-language", name: "language" },
    languages().map(([code, label]) => h("option", { value: code, selected: code === (me.language ?? lang()), lang: code }, label)));
  const zone = timeZonePicker("displayTimezone", me.displayTimezone ?? readerZone());
  zone.id = "profile-timezone";
  const problem = h("div");
  const save = async (event) => {
    event.preventDefault();
    try {
      const saved = await api("PATCH", "/v1/me", {
        name: name.value.trim() || null,
        language: language.value,
        displayTimezone: zone.value,
      });
      account.set(saved);
      useZone(saved.displayTimezone);
      if (saved.language && saved.language !== lang()) return choose(saved.language);
      toast(t("profile.saved"));
    } catch (error) {
      showError(error, problem);
    }
  };
  fill(view,
    h("h1", {}, t("profile.title")),
    h("form", { class: "panel stack narrow", id: "profile", onsubmit: save },
      field(t("profile.name"), name),
      h("p", {}, h("span", { class: "muted" }, t("profile.email")), " ",
        h("strong", { id: "profile-email" }, me.email ?? t("profile.noEmail"))),
      field(t("profile.language"), language),
      field(t("profile.timezone"), zone),
      h("div", { class: "row" }, h("button", { type: "submit", id: "profile-save" }, t("profile.save")))),
    problem);
}
