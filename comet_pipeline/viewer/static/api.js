// The viewer's JSON API, its bearer token, the status line, and decoded images.
//
// Reads go out without the token; if one answers 401 (a viewer bound beyond loopback
// wants a token for everything) it is retried with the token, and every later request,
// images included, carries it. Writes always carry it. Once the viewer has refused a token
// (or the lack of one), nothing is sent with it again until it is changed in Settings:
// each refusal counts against the viewer's throttle, which soon slows every request.

const TOKEN_KEY = "comet_pipeline.viewer.token";
let readsNeedToken = false;
let refusedToken = null; // the token ("" for none) the viewer last answered 401 to

/** An error the API answered with: its HTTP status and the Problem body's message. */
export class ApiError extends Error {
  /** ``local``: answered here, without asking the viewer (a token it already refused). */
  constructor(status, message, { local = false } = {}) {
    super(message);
    this.status = status;
    this.local = local;
  }
}

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

/** True while the token in Settings is one the viewer refused and reads need a token:
 * nothing can be read until it is changed (live updates pause). */
export function readsRefused() {
  return readsNeedToken && refusedToken !== null && refusedToken === getToken();
}

function request(url, token, { method = "GET", body, auth = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token && (auth || readsNeedToken)) headers.Authorization = `Bearer ${token}`;
  return fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
}

async function problemOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.message) message = body.message;
  } catch {
    // not a Problem body (a proxy's page, say): the status line is all we have
  }
  return new ApiError(response.status, message);
}

async function send(url, options = {}) {
  const token = getToken();
  if ((options.auth || readsNeedToken) && refusedToken !== null && token === refusedToken) {
    const which = token ? "refused this token" : "wants a token";
    throw new ApiError(401, `the viewer ${which}; not asked again until it is changed`, {
      local: true,
    });
  }
  let response;
  try {
    response = await request(url, token, options);
    if (response.status === 401 && !options.auth && !readsNeedToken) {
      readsNeedToken = true;
      if (token) response = await request(url, token, options);
    }
  } catch (err) {
    throw new ApiError(0, `the viewer did not answer (${err.message})`);
  }
  if (response.status === 401) refusedToken = token;
  if (!response.ok) throw await problemOf(response);
  return response;
}

/** GET (or, with ``{method, body, auth}``, any request) and the JSON body. */
export async function api(url, options) {
  return (await send(url, options)).json();
}

// ---- the status line -------------------------------------------------------------

const statusLine = () => document.getElementById("status");

/** Show ``message`` in the status line; kind "error" stays until something replaces it. */
export function status(message, kind = "info") {
  const line = statusLine();
  const stamp = new Date().toISOString().slice(11, 19);
  line.textContent = message ? `${stamp} UTC  ${message}` : "";
  line.title = message; // the whole of it, when the line is too narrow
  line.className = kind;
}

/** The status line for a failure: 401 says where the token goes (and opens Settings, the
 * first time the viewer says so). */
export function showError(err, what) {
  let message = err instanceof ApiError ? err.message : String(err);
  if (err instanceof ApiError && err.status === 401) {
    message = `enter a token under Settings — ${message}`;
    if (!err.local) document.getElementById("settings").open = true;
  }
  const code = err instanceof ApiError && err.status ? ` (${err.status})` : "";
  status(`${what}: ${message}${code}`, "error");
}

// ---- decoded images --------------------------------------------------------------

// URL -> {promise, src, settled}; the newest MAX_IMAGES are kept decoded (a Map keeps
// insertion order: touching an entry moves it to the end, the oldest is evicted first).
// An image fetched with the token is a blob: URL, revoked when its entry goes: evicted
// (only once settled: one still loading is passed over, and goes in a later round, so
// its URL cannot outlive its entry) or failed (decodeImage revokes it).
const MAX_IMAGES = 160;
const images = new Map();

const revoke = (src) => {
  if (src && src.startsWith("blob:")) URL.revokeObjectURL(src);
};

function evict() {
  for (const [key, old] of images) {
    if (images.size <= MAX_IMAGES) break;
    if (!old.settled) continue;
    revoke(old.src);
    images.delete(key);
  }
}

/** A promise of ``{src, img}`` once the image at ``url`` is fetched and decoded. */
export function loadImage(url) {
  let entry = images.get(url);
  if (entry) {
    images.delete(url);
    images.set(url, entry);
    return entry.promise;
  }
  entry = { src: null, settled: false };
  entry.promise = decodeImage(url, entry);
  entry.promise.then(
    () => {
      entry.settled = true;
      evict();
    },
    () => {
      if (images.get(url) === entry) images.delete(url);
    },
  );
  images.set(url, entry);
  evict();
  return entry.promise;
}

/** How many images are cached, and how many of those are blob: URLs (for the tests). */
export function imageCacheStats() {
  const entries = [...images.values()];
  return { size: entries.length, blobs: entries.filter((e) => e.src && e.src.startsWith("blob:")).length };
}

async function decodeImage(url, entry) {
  // with a token to send, fetch the bytes ourselves (an <img> cannot send headers)
  const src = readsNeedToken ? URL.createObjectURL(await (await send(url)).blob()) : url;
  const img = new Image();
  img.src = src;
  try {
    await img.decode();
  } catch {
    revoke(src);
    // ask again for the reason (a Problem body: no such product, outside the home...)
    await send(url);
    throw new ApiError(0, `${url} is not an image the browser can decode`);
  }
  entry.src = src;
  entry.img = img; // keeps the decoded bitmap alive while the entry is cached
  return entry;
}

/** Fetch up to ``width`` images at a time, in order; a new call replaces the queue. */
export class Preloader {
  constructor(width = 3) {
    this.width = width;
    this.queue = [];
    this.running = 0;
  }

  want(urls) {
    this.queue = urls.filter((u) => !images.has(u));
    while (this.running < this.width && this.queue.length) this.next();
  }

  next() {
    const url = this.queue.shift();
    if (!url) return;
    this.running += 1;
    loadImage(url)
      .catch(() => {}) // shown when (if) that frame is shown
      .finally(() => {
        this.running -= 1;
        this.next();
      });
  }
}

/** Copy ``text`` to the clipboard (with a fallback where the Clipboard API is not given). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}
