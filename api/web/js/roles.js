// What the person's role in the workspace the app acts in does not let them do: a view marks
// such a control (or the form, list or group holding several) with `data-needs="<role>"`;
// it stays in view, turned off, with the reason as its title, and one note at the top of
// the view says it in words (a viewer's is the banner under the header). The server
// refuses the same operations (403 `ROLE_REQUIRED`); here nobody meets that refusal.

import { workspaces } from "./api.js";
import { t } from "./i18n.js";
import { h } from "./ui.js";

const ROLES = ["viewer", "editor", "admin", "owner"];
const CONTROLS = "button, input, select, textarea";

/** Why the person may not do what needs `role` where the app acts, or null when they may. */
export function reason(role) {
  return workspaces.may(role) ? null : t("members.needs", { role: t(`roles.${role}`) });
}

/** Turns off what `marked` holds when the role it needs is above the person's; notes it
 * once in `view`. */
function hold(marked, view) {
  const role = marked.dataset.needs;
  const why = reason(role);
  if (!why) return;
  const controls = marked.matches(CONTROLS) ? [marked] : [...marked.querySelectorAll(CONTROLS)];
  for (const control of controls) {
    if (control.disabled) continue;
    control.disabled = true;
    control.title = why;
  }
  // A link or a menu that leads only to what is held.
  if (marked.matches("a, details")) marked.hidden = true;
  marked.classList.add("held");
  if (workspaces.role() !== "viewer") note(view, role);
}

/** The view's one note: the highest role something shown needs. */
function note(view, role) {
  let shown = view.querySelector(":scope > #role-note");
  if (shown && ROLES.indexOf(shown.dataset.role) >= ROLES.indexOf(role)) return;
  const text = t("roles.note", { role: t(`roles.${workspaces.role()}`), needed: t(`roles.${role}`) });
  const fresh = h("p", { id: "role-note", class: "notice", role: "note", dataset: { role } }, text);
  if (shown) shown.replaceWith(fresh);
  else view.prepend(fresh);
}

/** Holds, from now on, every control of the page marked with a role above the person's:
 * those shown now, those added later (a view, a dialog, a list's rows) and those a view
 * turns back on; the note goes at the top of `view`. */
export function watchRoles(view) {
  const apply = (node) => {
    if (node.nodeType !== Node.ELEMENT_NODE || node.id === "role-note") return;
    const around = node.closest("[data-needs]");
    if (around) hold(around, view);
    for (const marked of node.querySelectorAll("[data-needs]")) hold(marked, view);
  };
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "attributes") apply(record.target);
      else record.addedNodes.forEach(apply);
    }
  }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["disabled"] });
}
