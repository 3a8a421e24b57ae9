// Calls to the admin API and OFREP on this origin. The token lives in this module's memory only: never in a URL,
// a cookie or storage, so a reload signs out. Sent as a Bearer header, which a cross-site form can never send.

let token = "";

export function setToken(value) {
  token = value;
}

export const signedIn = () => token !== "";

let base = "/";

export function setApiBase(value) {
  base = value.endsWith("/") ? value : `${value}/`;
}

/** The path below the API base, e.g. `admin/flags`. */
const url = (path) => `${base}${path.replace(/^\//, "")}`;

/**
 * One request; resolves to { status, ok, data, etag } and never rejects on an HTTP status (a network failure
 * becomes status 0 with an error message).
 */
export async function call(method, path, options = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.ifMatch !== undefined) headers["If-Match"] = options.ifMatch;
  if (options.ifNoneMatch !== undefined) headers["If-None-Match"] = options.ifNoneMatch;
  let body;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  }
  try {
    const response = await fetch(url(path), { method, headers, body, cache: "no-store", credentials: "omit" });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { error: text };
    }
    return { status: response.status, ok: response.ok, data, etag: response.headers.get("ETag") };
  } catch (error) {
    return { status: 0, ok: false, data: { error: `the server did not answer (${error.message})` }, etag: null };
  }
}

export const flagPath = (key) => `admin/flags/${encodeURIComponent(key)}`;

/** The If-Match value for a revision, as the server spells its ETags. */
export const revisionTag = (revision) => `"${revision}"`;

/**
 * Whether the token may write: a PUT with an empty body is refused for its scope (403) before the body is read by
 * a read-only token, and refused for the empty body (400) with an admin one; nothing is ever written.
 */
export async function tokenScope() {
  const list = await call("GET", "admin/flags");
  if (!list.ok) return { ok: false, status: list.status, message: list.data?.error ?? `HTTP ${list.status}` };
  const probe = await call("PUT", flagPath("scope-probe"));
  return { ok: true, scope: probe.status === 403 ? "read" : "admin", flags: list.data };
}

/** OFREP evaluation of one flag for a context: { key, value, variant, reason } or an error. */
export const evaluate = (key, context) =>
  call("POST", `ofrep/v1/evaluate/flags/${encodeURIComponent(key)}`, { body: { context } });
