// Connecting a platform that signs in with credentials (its catalogue's `connect` is
// `credentials`: Bluesky's handle and app password) in a dialog: sent once to the server,
// which opens a session with the platform and keeps its tokens, never the password.

import { api } from "../api.js";
import { h, field, toast, showProblem } from "../ui.js";
import { t } from "../i18n.js";
import { channelLabel } from "../platforms.js";

/** Asks for `platform`'s credentials; resolves to the connected channel, or null. */
export function signIn(platform) {
  return new Promise((resolve) => {
    const name = channelLabel(platform);
    const identifier = h("input", { name: "identifier", required: true, autocomplete: "username", placeholder: t("publishing.identifierExample"), maxlength: 253 });
    const password = h("input", { name: "password", type: "password", required: true, autocomplete: "off", maxlength: 200 });
    const problem = h("div");
    const submit = h("button", { id: "sign-in-connect" }, t("publishing.connect"));
    const cancel = h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, t("common.cancel"));
    const id = `sign-in-${platform}`;
    const form = h("form", { class: "stack" },
      h("h2", { id }, t("publishing.signInTitle", { platform: name })),
      field(t("publishing.identifier"), identifier),
      field(t("publishing.appPassword"), password, h("span", { class: "hint" }, t("publishing.appPasswordHint", { platform: name }))),
      problem, h("div", { class: "row" }, submit, cancel));
    const dialog = h("dialog", { class: "sign-in", "aria-labelledby": id, dataset: { platform } }, form);
    let connected = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const channel = await api("POST", `/v1/channels/${platform}/credentials`, { identifier: identifier.value.trim(), password: password.value });
        connected = channel;
        toast(t("publishing.connectedToast", { platform: name }));
        dialog.close();
      } catch (error) {
        password.value = "";
        showProblem(error, { root: form, problem, fields: { identifier, password } });
      } finally {
        submit.disabled = false;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(connected);
    });
    document.body.append(dialog);
    dialog.showModal();
    identifier.focus();
  });
}
