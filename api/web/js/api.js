// The API, same-origin: the bearer token from sign-in, the JSON error envelope turned into
// `ApiError`, and the two ways progress arrives (EventSource for a job's events, a streamed
// `fetch` for NDJSON answers).

const TOKEN_KEY = "almanac.token";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const session = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) localStorage.setItem(TOKEN_KEY, value); else localStorage.removeItem(TOKEN_KEY);
  },
};

function headers(extra = {}) {
  const out = { ...extra };
  if (session.token) out.Authorization = `Bearer ${session.token}`;
  return out;
}

async function failure(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const error = body?.error ?? {};
  if (response.status === 401) window.dispatchEvent(new Event("almanac:signed-out"));
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
export async function api(method, path, body, { envelope = false, headers: extra } = {}) {
  const init = { method, headers: headers(extra) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  const json = await response.json();
  const enveloped = json && typeof json === "object" && "data" in json && "meta" in json && "error" in json;
  if (envelope) return enveloped ? json : { data: json, meta: {} };
  return enveloped ? json.data : json;
}

/** Downloads `path` (with the token) as a file named `name`. */
export async function download(path, name) {
  const response = await fetch(path, { headers: headers() });
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
  const query = new URLSearchParams({ access_token: session.token });
  if (after > 0) query.set("after", String(after));
  const source = new EventSource(`/v1/jobs/${jobId}/events?${query}`);
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
