// Settings -> Members: the workspace the app acts in, its members and their roles, the
// invitations waiting, and a new team workspace. What the person's role may not do is
// disabled with the reason beside it, never left to a refusal.

import { api, session, workspaces } from "../api.js";
import { h, field, fill, when, showError, showProblem, clearProblems, confirmAction, toast } from "../ui.js";
import { t } from "../i18n.js";

const ROLES = ["viewer", "editor", "admin", "owner"];

/** The section; `update()` reloads what it lists. */
export function members() {
  const body = h("div", { class: "stack" });
  const element = h("section", { class: "stack", id: "members-section" },
    h("h2", {}, t("members.title")), body);
  const update = async () => {
    const here = workspaces.current;
    if (!here || here.personal) {
      fill(body, h("p", { class: "muted", id: "members-personal" }, t("members.personal")), newWorkspace());
      return;
    }
    const [people, invited] = await Promise.all([
      api("GET", `/v1/workspaces/${here.id}/members`),
      workspaces.may("admin") ? api("GET", `/v1/workspaces/${here.id}/invitations`) : { items: [] },
    ]);
    fill(body,
      h("p", { class: "muted" }, t("members.intro", { workspace: here.name, role: t(`roles.${here.role}`) })),
      h("div", { class: "split" },
        h("section", { class: "panel stack" }, h("h3", {}, t("members.people")),
          h("ul", { class: "list stack", id: "member-list" }, people.items.map((m) => member(here, m, people.items, update)))),
        h("div", { class: "stack" }, invite(here, update), pending(here, invited.items, update))),
      newWorkspace(),
      owner(here));
  };
  return { element, update };
}

/** Why the person may not do what needs `role`, or null when they may. */
function reason(role) {
  return workspaces.may(role) ? null : t("members.needs", { role: t(`roles.${role}`) });
}

function member(here, m, everyone, update) {
  const you = m.userId === session.user;
  const who = m.name || m.email || (you ? t("members.yourself") : t("members.unnamed", { id: m.userId.slice(0, 8) }));
  const lastOwner = m.role === "owner" && everyone.filter((o) => o.role === "owner").length === 1;
  // An admin grants at most admin; owner is the owners' to give and take.
  const grantable = ROLES.filter((r) => r !== "owner" || workspaces.may("owner"));
  const touchesOwner = m.role === "owner" && !workspaces.may("owner");
  const why = reason("admin")
    ?? (touchesOwner ? t("members.needs", { role: t("roles.owner") }) : null)
    ?? (lastOwner ? t("errors.code.LAST_OWNER") : null);
  const role = h("select", { "aria-label": t("members.roleOf", { name: who }), disabled: Boolean(why), class: "member-role" },
    (grantable.includes(m.role) ? grantable : [...grantable, m.role]).map((r) =>
      h("option", { value: r, selected: r === m.role }, t(`roles.${r}`))));
  const problem = h("div");
  role.addEventListener("change", async () => {
    try {
      await api("PATCH", `/v1/workspaces/${here.id}/members/${m.userId}`, { role: role.value });
      toast(t("members.roleChanged", { name: who, role: t(`roles.${role.value}`) }));
      await update();
    } catch (error) {
      role.value = m.role;
      showError(error, problem);
    }
  });
  const remove = h("button", { type: "button", class: "secondary danger", disabled: Boolean(why), title: why ?? "" }, t("members.remove"));
  remove.addEventListener("click", async () => {
    const sure = await confirmAction({
      title: t("members.removeTitle", { name: who }),
      body: t("members.removeBody", { workspace: here.name }),
      confirm: t("members.remove"),
    });
    if (!sure) return;
    try {
      await api("DELETE", `/v1/workspaces/${here.id}/members/${m.userId}`);
      await update();
    } catch (error) {
      showError(error, problem);
    }
  });
  return h("li", { class: "row member", dataset: { user: m.userId, role: m.role } },
    h("div", { class: "stack tight grow" }, h("strong", {}, who, you && (m.name || m.email) ? ` ${t("members.you")}` : ""),
      m.email && m.name ? h("span", { class: "muted small" }, m.email) : null),
    role, remove, why ? h("span", { class: "muted small" }, why) : null, problem);
}

function invite(here, update) {
  const why = reason("admin");
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "off", disabled: Boolean(why) });
  const role = h("select", { name: "role", disabled: Boolean(why) },
    ROLES.filter((r) => r !== "owner" || workspaces.may("owner")).map((r) =>
      h("option", { value: r, selected: r === "editor" }, t(`roles.${r}`))));
  const problem = h("div");
  const form = h("form", { class: "panel stack", id: "invite-form" },
    h("h3", {}, t("members.invite")),
    why ? h("p", { class: "muted", id: "invite-why" }, why) : h("p", { class: "muted" }, t("members.inviteHint")),
    field(t("members.email"), email), field(t("members.role"), role),
    h("button", { type: "submit", disabled: Boolean(why) }, t("members.send")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    try {
      await api("POST", `/v1/workspaces/${here.id}/invitations`, { email: email.value.trim(), role: role.value });
      toast(t("members.sent", { email: email.value.trim() }));
      email.value = "";
      await update();
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { email, role } });
    }
  });
  return form;
}

function pending(here, items, update) {
  if (!workspaces.may("admin")) return null;
  return h("section", { class: "panel stack", id: "invitations" },
    h("h3", {}, t("members.pending")),
    items.length ? h("ul", { class: "list stack" }, items.map((i) => h("li", { class: "row invitation", dataset: { email: i.email } },
      h("div", { class: "stack tight grow" }, h("strong", {}, i.email),
        h("span", { class: "muted small" }, t("members.invitedAs", { role: t(`roles.${i.role}`), until: when(i.expiresAt) }))),
      h("button", {
        type: "button", class: "secondary",
        onclick: async () => {
          await api("DELETE", `/v1/workspaces/${here.id}/invitations/${i.id}`);
          await update();
        },
      }, t("members.revoke")))))
      : h("p", { class: "muted" }, t("members.noPending")));
}

function newWorkspace() {
  const name = h("input", { name: "name", required: true, maxlength: 80, autocomplete: "off", placeholder: t("members.namePlaceholder") });
  const problem = h("div");
  const form = h("form", { class: "panel stack", id: "new-workspace" },
    h("h3", {}, t("members.newTitle")), h("p", { class: "muted" }, t("members.newHint")),
    field(t("members.name"), name), h("button", { type: "submit" }, t("members.create")), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await api("POST", "/v1/workspaces", { name: name.value.trim() });
      await workspaces.load();
      workspaces.choose(made.id);
      location.hash = "#/settings";
    } catch (error) {
      showProblem(error, { root: form, problem, fields: { name } });
    }
  });
  return form;
}

/** Deleting the workspace: the owners' alone, said so to the others. */
function owner(here) {
  const why = reason("owner");
  const problem = h("div");
  const remove = h("button", { type: "button", class: "danger", id: "delete-workspace", disabled: Boolean(why) }, t("members.delete"));
  remove.addEventListener("click", async () => {
    const sure = await confirmAction({
      title: t("members.deleteTitle", { workspace: here.name }),
      body: t("members.deleteBody"),
      confirm: t("members.delete"),
    });
    if (!sure) return;
    try {
      await api("DELETE", `/v1/workspaces/${here.id}`);
      await workspaces.load();
      workspaces.choose(workspaces.list.find((w) => w.personal)?.id);
    } catch (error) {
      showError(error, problem);
    }
  });
  return h("section", { class: "panel stack" }, h("h3", {}, t("members.dangerTitle")),
    why ? h("p", { class: "muted" }, why) : null, h("div", { class: "row" }, remove), problem);
}
