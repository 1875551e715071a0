// An invitation's link (`#/join/<token>`): the invited person, signed in with the address
// it was sent to, joins the workspace and lands in it.

import { api, workspaces } from "./api.js";
import { h, fill, showError } from "./ui.js";
import { t } from "./i18n.js";

export async function show(view, [token] = []) {
  const problem = h("div");
  const button = h("button", { type: "button", id: "join-accept" }, t("join.accept"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    fill(problem);
    try {
      const joined = await api("POST", `/v1/invitations/${encodeURIComponent(token ?? "")}/accept`);
      await workspaces.load();
      workspaces.choose(joined.workspace.id);
    } catch (error) {
      button.disabled = false;
      showError(error, problem);
    }
  });
  fill(view, h("section", { class: "panel stack", id: "join" },
    h("h1", {}, t("join.title")),
    h("p", {}, t("join.intro")),
    h("div", { class: "row" }, button,
      h("a", { class: "button secondary", href: "#/calendar" }, t("join.notNow"))),
    problem));
}
