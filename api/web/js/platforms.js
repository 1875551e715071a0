// The channels as the server describes them (`/app/config.json`): the platforms Almanac
// publishes to, each from its adapter, then the channels people plan for that none
// publishes to; each with its label and colour. Nothing here names one: a platform the
// server registers shows up in every list, badge and grid with its own colour.

import { appConfig } from "./api.js";

let channels = new Map();
let organic = [];

/** Reads the channels once the server's configuration is in (before the first view). */
export async function loadChannels() {
  const config = await appConfig();
  channels = new Map((config.channels ?? []).map((c) => [c.name, c]));
  organic = config.organicPlatforms ?? [];
}

/** Every channel, the publishing platforms first. */
export const allChannels = () => [...channels.values()];

/** The channels an adapter publishes to. */
export const publishingChannels = () => allChannels().filter((c) => c.publishes);

/** The organic week's platforms (seed 003), in the server's order. */
export const organicPlatforms = () => organic;

/** A channel's name as people read it (its own slug when the server does not know it). */
export const channelLabel = (name) => channels.get(name)?.label ?? name;

/** The attributes that mark an element with a channel's colour (`--platform`, read by the
 * stylesheet). */
export function colored(name, attrs = {}) {
  const color = channels.get(name)?.color;
  return { ...attrs, dataset: { ...(attrs.dataset ?? {}), platform: name }, style: color ? { "--platform": color } : undefined };
}
