// What needs an operator's eye besides the jobs: the feature flags as the server applies
// them, webhook endpoints Almanac disabled, and channels whose owners must connect them
// again (or soon). Each names its workspace, a link to that workspace's jobs.

import { api } from "../api.js";
import { h, when } from "../ui.js";
import { t } from "../i18n.js";

function workspaceLink(workspaceId) {
  return h("a", { href: `#/ops?${new URLSearchParams({ workspace: workspaceId })}`, class: "mono" }, workspaceId);
}

/** The panel, filled once from `/admin/attention`. */
export async function attentionPanel() {
  const found = await api("GET", "/admin/attention");
  return h("section", { class: "panel stack", id: "ops-attention" },
    h("h2", {}, t("ops.attention")),
    h("h3", {}, t("ops.flags")),
    h("ul", { class: "list", id: "ops-flags" }, found.flags.map((flag) => h("li", { dataset: { flag: flag.name } },
      h("span", { class: "mono" }, flag.name), " ",
      h("span", { class: `badge ${flag.state === "off" ? "warn" : "ok"}` }, t(`ops.flagState.${flag.state}`)), " ",
      h("span", { class: "muted" }, t(`ops.flagSource.${flag.source}`))))),
    h("p", { class: "muted" }, t("ops.flagsHint")),
    h("h3", {}, t("ops.endpointsDisabled", { count: found.disabledEndpoints })),
    found.endpoints.length
      ? h("ul", { class: "list", id: "ops-endpoints" }, found.endpoints.map((endpoint) => h("li", { dataset: { id: endpoint.id } },
        workspaceLink(endpoint.workspaceId), " ", h("span", { class: "muted" }, when(endpoint.disabledAt)),
        endpoint.reason ? h("div", {}, endpoint.reason) : null)))
      : h("p", { class: "muted" }, t("ops.noneDisabled")),
    h("h3", {}, t("ops.channelsToReconnect", { count: found.channelsToReconnect })),
    found.channels.length
      ? h("ul", { class: "list", id: "ops-channels" }, found.channels.map((channel) => h("li", { dataset: { id: channel.id, status: channel.status } },
        h("strong", {}, channel.platform), " ", workspaceLink(channel.workspaceId), " ",
        h("span", { class: "muted" }, channel.status === "needs_reauth"
          ? (channel.reason ?? t("ops.needsReauth"))
          : t("ops.reconnectBy", { date: when(channel.reconnectBy) })))))
      : h("p", { class: "muted" }, t("ops.noneToReconnect")));
}
