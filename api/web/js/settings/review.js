// Settings -> Review: the workspace's review policy, and each connected channel's own (which
// wins over the workspace's on that channel): off, or up to three steps, each naming who
// approves (roles, members, guests by email) and how many approvals it needs. Saving one
// lists the scheduled posts it now holds for approval (docs/review.md).

import { api, people, workspaces } from "../api.js";
import { h, fill, field, toast, showProblem, clearProblems, platformBadge } from "../ui.js";
import { t, formatZoned } from "../i18n.js";
import { who } from "../people.js";

const ROLES = ["editor", "admin", "owner", "viewer"];

export function reviewSettings() {
  const body = h("div", { class: "stack" });
  const element = h("section", { class: "stack", id: "review-settings", "aria-label": t("review.settingsTitle") }, body);
  const update = async () => {
    const here = workspaces.current;
    const [own, channels] = await Promise.all([
      api("GET", `/v1/workspaces/${here.id}/review`),
      api("GET", "/v1/channels"),
      people.load(),
    ]);
    const perChannel = await Promise.all((channels.items ?? []).map(async (channel) =>
      [channel, await api("GET", `/v1/channels/${channel.id}/review`)]));
    fill(body,
      h("p", { class: "muted" }, t("review.settingsIntro")),
      h("h2", {}, t("review.workspacePolicy")),
      policyEditor("review-workspace", own, `/v1/workspaces/${here.id}/review`),
      h("h2", {}, t("review.channelPolicies")),
      perChannel.length ? perChannel.map(([channel, policy]) => h("details", { class: "channel-review", open: policy.updatedBy ? true : null },
        h("summary", {}, platformBadge(channel.platform), " ", channel.displayName ?? channel.handle ?? channel.platform, " · ",
          policy.updatedBy ? t(`review.mode.${policy.mode}`) : t("review.usesWorkspace")),
        policyEditor(`review-channel-${channel.id}`, policy, `/v1/channels/${channel.id}/review`)))
        : h("p", { class: "muted" }, t("review.noChannels")));
  };
  return { element, update };
}

/** A policy's form: its mode and steps; saved with `PUT path`. */
function policyEditor(id, policy, path) {
  const mode = h("select", { name: "mode" },
    ["none", "always"].map((m) => h("option", { value: m, selected: policy.mode === m }, t(`review.mode.${m}`))));
  const steps = h("ol", { class: "review-steps stack" });
  const add = h("button", { type: "button", class: "secondary", "data-needs": "admin" }, t("review.addStep"));
  const held = h("div", { class: "review-held" });
  const problem = h("div");
  const save = h("button", { type: "submit", "data-needs": "admin" }, t("common.save"));
  const refresh = () => {
    add.hidden = mode.value !== "always" || steps.children.length >= 3;
    steps.hidden = mode.value !== "always";
    [...steps.children].forEach((li, i) => { li.querySelector(".step-number").textContent = t("review.stepN", { n: i + 1 }); });
  };
  const addStep = (step) => { steps.append(stepEditor(step, refresh)); refresh(); };
  (policy.steps.length ? policy.steps : []).forEach(addStep);
  add.addEventListener("click", () => addStep({ name: "", approvers: { roles: ["editor"] }, required: 1 }));
  mode.addEventListener("change", () => {
    if (mode.value === "always" && !steps.children.length) addStep({ name: t("review.firstStepName"), approvers: { roles: ["editor"] }, required: 1 });
    refresh();
  });
  const form = h("form", { class: "stack review-policy", id }, field(t("review.modeLabel"), mode), steps, add, problem, held, h("div", { class: "row" }, save),
    policy.updatedBy ? h("p", { class: "hint" }, t("review.setBy", { who: who(policy.updatedBy), when: formatZoned(policy.updatedAt) })) : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    problem.replaceChildren();
    const body = { mode: mode.value, steps: mode.value === "always" ? [...steps.children].map((li) => li.read()) : [] };
    save.disabled = true;
    try {
      const saved = await api("PUT", path, body);
      toast(t("review.saved"));
      held.replaceChildren(...heldList(saved.needsApproval));
    } catch (error) {
      showProblem(error, { problem, root: form });
    } finally {
      save.disabled = false;
    }
  });
  refresh();
  return form;
}

/** One step: its name, who approves and how many approvals it needs. */
function stepEditor(step, changed) {
  const name = h("input", { name: "stepName", value: step.name, maxlength: 60, required: true });
  const roles = ROLES.map((role) => h("input", { type: "checkbox", value: role, checked: (step.approvers.roles ?? []).includes(role) }));
  const members = [...people.byId.values()].map((m) => h("input", { type: "checkbox", value: m.userId, checked: (step.approvers.userIds ?? []).includes(m.userId) }));
  const guests = h("input", { name: "guests", value: (step.approvers.guests ?? []).join(", "), placeholder: "client@example.com" });
  const required = h("input", { type: "number", name: "required", min: 1, max: 10, value: step.required ?? 1 });
  const remove = h("button", { type: "button", class: "link", "data-needs": "admin" }, t("review.removeStep"));
  const li = h("li", { class: "review-step stack" },
    h("p", { class: "row" }, h("strong", { class: "step-number" }), remove),
    field(t("review.stepName"), name),
    h("fieldset", { class: "row wrap" }, h("legend", {}, t("review.approvingRoles")),
      ROLES.map((role, i) => h("label", { class: "check" }, roles[i], t(`roles.${role}`)))),
    members.length ? h("fieldset", { class: "row wrap" }, h("legend", {}, t("review.approvingMembers")),
      [...people.byId.values()].map((m, i) => h("label", { class: "check" }, members[i], who(m.userId, m)))) : null,
    field(t("review.guests"), guests),
    field(t("review.required"), required));
  remove.addEventListener("click", () => { li.remove(); changed(); });
  li.read = () => ({
    name: name.value.trim(),
    approvers: {
      roles: roles.filter((b) => b.checked).map((b) => b.value),
      userIds: members.filter((b) => b.checked).map((b) => b.value),
      guests: guests.value.split(/[,\s]+/).map((g) => g.trim()).filter(Boolean),
    },
    required: Number(required.value) || 1,
  });
  return li;
}

/** The scheduled posts a saved policy holds until their entries are approved. */
function heldList(held) {
  if (!held?.length) return [];
  return [h("p", { class: "notice warn", role: "status" }, t("review.nowHeld", { count: held.length })),
    h("ul", { class: "list" }, held.map((item) => h("li", {}, item.publishAt ? formatZoned(item.publishAt) : "—")))];
}
