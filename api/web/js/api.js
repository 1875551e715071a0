// The API, same-origin, with the browser session: an HttpOnly cookie the page cannot read,
// so no script here ever holds a token. Every call says it comes from this app's script
// (`X-Requested-With`), which the API asks of a request carrying only the cookie. The JSON
// error envelope becomes `ApiError`, and progress arrives two ways (EventSource for a
// job's events, a streamed `fetch` for NDJSON answers).

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const FROM_THE_APP = { "X-Requested-With": "XMLHttpRequest" };

/** The operator console's session (`almanac_admin`, opened with `ADMIN_TOKEN`). */
export const adminSession = {
  open: (token) => post("/app/admin-session", { token }),
  close: () => fetch("/app/admin-session", { method: "DELETE", headers: FROM_THE_APP, credentials: "same-origin" }),
};

/** The browser session: who is signed in (`user`), sign-in and sign-out. */
export const session = {
  user: null,
  /** Whether publishing is on for this user (the `PUBLISH_SERVICE_ENABLED` flag). */
  publishing: true,

  /**
   * Asks the server whose session the cookie carries; `null` when none (401). Throws when
   * the server cannot tell (unreachable, or answering 5xx): that is not "signed out".
   */
  async load() {
    const response = await fetch("/app/session", { headers: FROM_THE_APP, credentials: "same-origin" });
    if (response.status === 401) {
      this.user = null;
      return null;
    }
    if (!response.ok) throw await failure(response, { signIn: true });
    const answer = await response.json();
    this.user = answer.userId ?? null;
    this.publishing = answer.publishing !== false;
    return this.user;
  },

  /** Opens a session with a pasted access token. */
  async open(token) {
    await post("/app/session", { token });
    return this.load();
  },

  /** Asks for a sign-in link by email (the answer is the same whoever asks). */
  async emailLink(email, language) {
    await post("/app/sign-in", { email, language });
  },

  /** Opens a development session (`DEV_LOGIN`) for `userId`, or a new user. */
  async openDev(userId) {
    await post("/app/dev-login", userId ? { userId } : {});
    return this.load();
  },

  /** Ends the session on the server. */
  async close() {
    this.user = null;
    workspaces.forget();
    account.set(null);
    await fetch("/app/session", { method: "DELETE", headers: FROM_THE_APP, credentials: "same-origin" });
  },
};

/** The signed-in person's account (`GET /v1/me`): fetched once a session, kept current by
 * the profile's saves. */
export const account = {
  me: null,
  async load() {
    this.me ??= await api("GET", "/v1/me");
    return this.me;
  },
  set(me) {
    this.me = me;
    window.dispatchEvent(new Event("almanac:account"));
  },
};

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { ...FROM_THE_APP, "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response, { signIn: true });
}

function headers(extra = {}) {
  return { ...FROM_THE_APP, ...workspaces.header(), ...extra };
}

const WORKSPACE_KEY = "almanac.workspace";
const ROLES = ["viewer", "editor", "admin", "owner"];

/** The person's workspaces (`GET /v1/workspaces`) and the one the app acts in: lists and
 * creations carry it as `Almanac-Workspace` (none for the personal one); the choice is kept
 * in the browser. */
export const workspaces = {
  list: [],
  current: null,
  async load() {
    // Asked without a workspace: the one kept may be gone.
    this.current = null;
    this.list = (await api("GET", "/v1/workspaces")).items ?? [];
    const kept = localStorage.getItem(WORKSPACE_KEY);
    this.current = this.list.find((w) => w.id === kept) ?? this.list.find((w) => w.personal) ?? this.list[0] ?? null;
    return this.list;
  },
  /** Acts in workspace `id` from now on. */
  choose(id) {
    this.current = this.list.find((w) => w.id === id) ?? this.current;
    if (this.current) localStorage.setItem(WORKSPACE_KEY, this.current.id);
    window.dispatchEvent(new Event("almanac:workspace"));
  },
  header() {
    return this.current && !this.current.personal ? { "Almanac-Workspace": this.current.id } : {};
  },
  /** The person's role where the app acts (`owner` in their personal workspace). */
  role() {
    return this.current?.role ?? "owner";
  },
  /** Whether their role there is `role` or above. */
  may(role) {
    return ROLES.indexOf(this.role()) >= ROLES.indexOf(role);
  },
  forget() {
    this.list = [];
    this.current = null;
  },
};

async function failure(response, { signIn = false } = {}) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const error = body?.error ?? {};
  if (response.status === 401 && !signIn) window.dispatchEvent(new Event("almanac:signed-out"));
  // Removed from the workspace (or it was deleted): back to the personal one.
  if (error.code === "WORKSPACE_NOT_FOUND" && workspaces.current && !workspaces.current.personal) {
    localStorage.removeItem(WORKSPACE_KEY);
    workspaces.load().then(() => window.dispatchEvent(new Event("almanac:workspace")), () => {});
  }
  return new ApiError(
    response.status,
    error.code ?? `HTTP_${response.status}`,
    error.message ?? `${response.status} ${response.statusText}`,
    error.details,
  );
}

/**
 * `api("POST", "/v1/ai/calendar", body)`: the answer's JSON. An enveloped answer
 * (`{data, error, meta}`) gives `{data, meta}` with `{envelope: true}`, else its `data`.
 */
let config = null;

/** The server's settings for the app (`/app/config.json`: sign-in, the AI provider, the
 * platforms it publishes to), fetched once; a failed fetch is tried again next time. */
export function appConfig() {
  config ??= fetch("/app/config.json")
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
    .catch(() => { config = null; return {}; });
  return config;
}

/** Sends `form` (multipart) to `path`, as `POST /v1/media` takes a file, or a `Blob` as
 * its own type (a poster frame's JPEG); the answer's data. */
export async function upload(path, form) {
  const response = await fetch(path, { method: "POST", headers: headers(), credentials: "same-origin", body: form });
  if (!response.ok) throw await failure(response);
  const json = await response.json();
  return json?.data ?? json;
}

/**
 * `method path` with `body` as JSON: the answer's `data` (the whole envelope with
 * `envelope`; `{data, etag}` with `etag`, the answer's `ETag` beside it).
 */
export async function api(method, path, body, { envelope = false, etag = false, headers: extra } = {}) {
  const init = { method, headers: headers(extra), credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  // The console's 401 is its own sign-in's business, not the user session's.
  if (!response.ok) throw await failure(response, { signIn: path.startsWith("/admin/") });
  if (response.status === 204) return null;
  const json = await response.json();
  const enveloped = json && typeof json === "object" && "data" in json && "meta" in json && "error" in json;
  if (envelope) return enveloped ? json : { data: json, meta: {} };
  if (etag) return { data: enveloped ? json.data : json, etag: response.headers.get("ETag") };
  return enveloped ? json.data : json;
}

/** The options of a change made only at `etag` (as `If-Match`); none without one. */
export function ifMatch(etag) {
  return etag ? { headers: { "If-Match": etag } } : {};
}

/** The options of a change made only at `version` (its `ETag`, as `If-Match`): a
 * teammate's change since is refused (`EDIT_CONFLICT`), never overwritten. None without a
 * version (an entry only streamed so far). */
export function atVersion(version) {
  return ifMatch(version ? `"${version}"` : null);
}

/** Downloads `path` (with the session) as a file named `name`. */
export async function download(path, name) {
  const response = await fetch(path, { headers: headers(), credentials: "same-origin" });
  if (!response.ok) throw await failure(response);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob;
}

/**
 * Follows a job's events with `EventSource`, which resumes by itself (`Last-Event-ID`) after a
 * dropped connection. `after` resumes a stream a reload interrupted. `on[type](data, id)` is
 * called per event; the source is closed after `done`.
 */
export function follow(jobId, { after = 0, on = {}, onId } = {}) {
  // The session cookie goes with it (same origin): no token in the URL.
  const query = new URLSearchParams();
  if (after > 0) query.set("after", String(after));
  const source = new EventSource(`/v1/jobs/${jobId}/events${after > 0 ? `?${query}` : ""}`);
  const types = ["progress", "entry", "suggestions", "diff", "placement", "section", "done", "truncated", "error"];
  for (const type of types) {
    source.addEventListener(type, (event) => {
      if (event.data === undefined) return; // a connection error: the browser reconnects
      const id = Number(event.lastEventId);
      let data;
      try { data = JSON.parse(event.data); } catch { return; }
      onId?.(id);
      on[type]?.(data, id);
      if (type === "done") source.close();
    });
  }
  return source;
}

/**
 * POSTs `body` and reads the NDJSON answer line by line: `onLine(object)` per line.
 * Resolves when the stream ends; `signal` aborts it.
 */
export async function ndjson(path, body, onLine, signal) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "application/x-ndjson" }),
    credentials: "same-origin",
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) onLine(JSON.parse(line));
    }
  }
  if (buffered.trim()) onLine(JSON.parse(buffered));
  return response;
}

/** The people of the workspace the app acts in (`GET /v1/workspaces/{id}/members`), read
 * once per workspace: who made an entry, who last changed it, who is looking. */
export const people = {
  byId: new Map(),
  of: undefined,
  async load() {
    const here = workspaces.current;
    if (!here || here.personal) {
      this.byId = new Map();
      this.of = here?.id;
      return this.byId;
    }
    if (this.of === here.id) return this.byId;
    const { items } = await api("GET", `/v1/workspaces/${here.id}/members`);
    this.byId = new Map(items.map((m) => [m.userId, m]));
    this.of = here.id;
    return this.byId;
  },
  /** Whether the app acts in a team workspace (where who did what is worth saying). */
  shared() {
    return Boolean(workspaces.current && !workspaces.current.personal);
  },
  /** The name to show for `id` (a person the live stream or an error named as `known`
   * `{name, email}` is shown so even before the members are read). */
  name(id, known = {}, { you, someone }) {
    if (id === session.user) return you;
    const member = this.byId.get(id);
    return member?.name || member?.email || known.name || known.email || someone;
  },
};

/** Initials for a name or an address: "Eve Martin" -> "EM", "eve@x" -> "E". */
export function initials(text) {
  const words = String(text ?? "").split("@")[0].split(/[\s._-]+/).filter(Boolean);
  return (words.length > 1 ? words[0][0] + words[1][0] : (words[0] ?? "?").slice(0, 2)).toUpperCase();
}
