// How the app names a person: a workspace member by their name or address, oneself as
// "you", someone no longer a member as "a former member" (`people` in `api.js` holds the
// members).

import { people } from "./api.js";
import { t } from "./i18n.js";

/** The name to show for the person `id` (`known`, `{name, email}`, where an event or an
 * error named them). */
export function who(id, known) {
  return people.name(id, known, { you: t("people.you"), someone: t("people.someone") });
}
