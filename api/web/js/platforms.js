// The channels as the server describes them (`/app/config.json`): the platforms Almanac
// publishes to, each from its adapter, then the channels people plan for that none
// publishes to; each with its label and colour. Nothing here names one: a platform the
// server registers shows up in every list, badge and grid with its own colour.

import { api, appConfig } from "./api.js";

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

/** The caller's accounts connected now (`GET /v1/channels`, those `connected`). */
export async function connectedChannels() {
  const { items } = await api("GET", "/v1/channels");
  return items.filter((c) => c.status === "connected");
}

/** A username as people write it (`@leafy`); a name with spaces stays as it is. */
const atHandle = (handle) => (/^[\p{L}\p{N}_.]+$/u.test(handle) ? `@${handle}` : handle);

/**
 * How people know a connected account: the name its profile shows and its @handle, as the
 * platform told them at connect (`Leafy Co (@leafy)`), else its id.
 */
export function accountName(channel) {
  const handle = channel.handle ? atHandle(channel.handle.replace(/^@/, "")) : null;
  if (channel.displayName && handle && channel.displayName !== channel.handle) return `${channel.displayName} (${handle})`;
  return channel.displayName ?? handle ?? channel.accountId;
}

/** `@Leafy ` -> `leafy`: an account id or handle as two spellings of it compare. */
const plain = (name) => String(name ?? "").trim().replace(/^@/, "").toLowerCase();

/**
 * The connected channel a typed account (`{platform, accountId, handle?}`, the organic
 * week's) is, and how it was found: by its id, or by its handle.
 */
export function connectedAs(account, channels) {
  const same = channels.filter((c) => c.platform === account.platform && c.status === "connected");
  const byId = same.find((c) => plain(c.accountId) === plain(account.accountId));
  if (byId) return { channel: byId, by: "id" };
  const typed = [plain(account.accountId), plain(account.handle)].filter(Boolean);
  const byHandle = same.find((c) => c.handle && typed.includes(plain(c.handle)));
  return byHandle ? { channel: byHandle, by: "handle" } : null;
}
