// The hunter's page: the player over the chosen detector's newest frames, the ranked
// candidates (overlaid on the player), one candidate's view (#/candidates/<id>) with its
// verdict buttons, a draft report filled by clicking the image, and live updates by polling.

import {
  api,
  copyText,
  getToken,
  loadImage,
  readsRefused,
  setToken,
  showError,
  status,
} from "./api.js";
import { Player, geometry } from "./player.js";
import { ProductsView } from "./products.js";

const POLL_MS = 10_000;
const OVERLAY_MAX = 8; // tracks drawn on the player from the top of the list
const MAX_FRAMES = 5000;
const DRAFT_KEY = "comet_pipeline.viewer.draft";
const $ = (id) => document.getElementById(id);

const state = {
  detector: "c2",
  hours: 12,
  window: null, // {since, until} when a candidate outside the newest hours is open
  candidates: [], // the list, best first
  details: new Map(), // id -> {key, detail}: fetched for the overlays and the view
  open: null, // the candidate shown in the candidate view
  loadGen: 0, // bumped per reload: answers for an older detector are dropped
};

const player = new Player({ onPick: addDraftLine });
const products = new ProductsView();

// ---- small formatting helpers -----------------------------------------------------

const num = (v, digits = 1) => (typeof v === "number" ? v.toFixed(digits) : "–");
const utc = (iso) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : "–");
const hhmm = (iso) => iso.slice(11, 16);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "className") node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function statusBadge(value) {
  return el("span", { className: `badge status-${value}` }, value);
}

// ---- frames -----------------------------------------------------------------------

/** Every frame of ``detector`` in [since, until), following the keyset pages. */
async function fetchFrames(detector, since, until) {
  const frames = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ detector, limit: "500" });
    if (since) query.set("since", since);
    if (until) query.set("until", until);
    if (cursor) query.set("cursor", cursor);
    const page = await api(`/api/frames?${query}`);
    frames.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && frames.length < MAX_FRAMES);
  return frames;
}

/** The newest ``hours`` of ``detector``, in time order: newest-first pages (the first one
 * is enough to show a frame), walked back until a frame is older than that. */
async function fetchNewest(detector, hours) {
  const frames = [];
  let cutoff = null;
  let cursor = null;
  const limit = String(Math.min(500, Math.max(50, hours * 8))); // ~6 frames an hour
  do {
    const query = new URLSearchParams({ detector, order: "newest", limit });
    if (cursor) query.set("cursor", cursor);
    const page = await api(`/api/frames?${query}`);
    for (const frame of page.items) {
      const at = Date.parse(frame.observed_at);
      if (cutoff === null) cutoff = at - hours * 3.6e6;
      if (at < cutoff) return frames.reverse();
      frames.push(frame);
    }
    cursor = page.next_cursor;
  } while (cursor && frames.length < MAX_FRAMES);
  return frames.reverse();
}

/** Why there is nothing to show: the store's own words when it cannot be read. */
async function whyNoFrames(detector) {
  const health = await api("/api/health");
  return health.store.reachable
    ? [`no ${detector.toUpperCase()} frames in the store yet`, "info"]
    : [`store: ${health.store.error}`, "error"];
}

/** Load the player: the newest ``hours`` of the detector (or the open candidate's window),
 * showing frame ``name`` when it is among them. */
async function reload(name) {
  const gen = ++state.loadGen;
  const detector = state.detector;
  try {
    const frames = state.window
      ? await fetchFrames(detector, state.window.since, state.window.until)
      : await fetchNewest(detector, state.hours);
    if (gen !== state.loadGen) return;
    player.setFrames(frames, name);
    if (!frames.length) status(...(await whyNoFrames(detector)));
  } catch (err) {
    showError(err, `${detector.toUpperCase()} frames`);
    if (gen === state.loadGen && !player.frames.length) {
      player.display(null, null, "no frames: the status line above says why");
    }
  }
  await refreshCandidates();
}

function setDetector(detector, name) {
  state.detector = detector;
  for (const d of ["c2", "c3"]) {
    $(`detector-${d}`).setAttribute("aria-pressed", String(d === detector));
  }
  state.details.clear();
  return reload(name);
}

// ---- candidates: the list and the tracks on the player ------------------------------

async function refreshCandidates() {
  const detector = state.detector;
  try {
    const list = await api(`/api/candidates?detector=${detector}`);
    if (detector !== state.detector) return;
    state.candidates = list.items;
    renderList();
    // the open candidate grew (a new hour's hunt) or was judged elsewhere: show that
    const open = state.open && list.items.find((c) => c.id === state.open.id);
    if (open && (open.n_frames !== state.open.n_frames || open.status !== state.open.status)) {
      state.open = await api(open.url);
      renderCandidate(state.open);
    }
    await refreshTracks();
  } catch (err) {
    showError(err, "candidates");
  }
}

function renderList() {
  const rows = state.candidates.map((c, i) => {
    const link = el("a", { href: `#/candidates/${encodeURIComponent(c.id)}` }, c.id);
    link.dataset.candidateId = c.id;
    const known = c.known ? el("span", { className: "known" }, `known: ${c.known}`) : null;
    const row = el(
      "tr",
      { className: c.known ? "is-known" : "" },
      el("td", { className: "dim" }, String(i + 1)),
      el("td", {}, link, known ? " " : null, known),
      el("td", {}, num(c.score)),
      el("td", {}, num(c.snr)),
      el("td", {}, String(c.n_frames)),
      el("td", {}, num(c.speed_px_per_hour)),
      el("td", {}, statusBadge(c.status)),
    );
    row.addEventListener("mouseenter", () => highlight(c.id));
    row.addEventListener("mouseleave", () => highlight(state.open ? state.open.id : null));
    return row;
  });
  $("candidate-list").replaceChildren(...rows);
  const count = rows.length ? `${rows.length}, best first` : "none yet";
  $("candidate-count").textContent = `${state.detector.toUpperCase()} · ${count}`;
  $("no-candidates").hidden = rows.length > 0;
}

/** The detail of a candidate, fetched again only when its summary changed. */
async function detailOf(summary) {
  const key = [summary.n_frames, summary.last_seen_at, summary.status].join("|");
  const cached = state.details.get(summary.id);
  if (cached && cached.key === key) return cached.detail;
  const detail = await api(summary.url);
  state.details.set(summary.id, { key, detail });
  return detail;
}

/** Tracks of the best candidates whose time span overlaps the player's frames. */
async function refreshTracks() {
  const frames = player.frames;
  if (!frames.length) {
    player.setTracks([]);
    return;
  }
  const first = Date.parse(frames[0].observed_at);
  const last = Date.parse(frames[frames.length - 1].observed_at);
  const ranked = state.candidates.map((c, i) => ({ ...c, rank: i + 1 }));
  const inView = ranked.filter(
    (c) => Date.parse(c.last_seen_at) >= first && Date.parse(c.first_seen_at) <= last,
  );
  const shown = inView.slice(0, OVERLAY_MAX);
  const open = state.open && inView.find((c) => c.id === state.open.id);
  if (open && !shown.includes(open)) shown.push(open);
  const details = await Promise.all(shown.map(detailOf));
  player.setTracks(
    details.map((d, i) => ({
      id: d.id,
      rank: shown[i].rank,
      known: d.known,
      selected: state.open !== null && d.id === state.open.id,
      detections: d.detections,
    })),
  );
}

function highlight(id) {
  for (const t of player.tracks) t.selected = t.id === id;
  player.drawTracks();
}

// ---- the candidate view -----------------------------------------------------------

async function openCandidate(id) {
  $("list-view").hidden = true;
  $("candidate-view").hidden = false;
  try {
    const c = await api(`/api/candidates/${encodeURIComponent(id)}`);
    state.open = c;
    renderCandidate(c);
    await showOnPlayer(c);
  } catch (err) {
    showError(err, `candidate ${id}`);
  }
}

/** Put the candidate's first detection on the player (its detector; its time range). */
async function showOnPlayer(c) {
  const first = c.detections[0];
  const name = first ? first.file : undefined;
  const loaded = player.frames.some((f) => f.name === name);
  if (c.detector !== state.detector || (name && !loaded)) {
    if (name && c.detector === state.detector) {
      // an older candidate: its own window, an hour either side of the track
      const pad = 3.6e6;
      state.window = {
        since: new Date(Date.parse(c.first_seen_at) - pad).toISOString(),
        until: new Date(Date.parse(c.last_seen_at) + pad).toISOString(),
      };
    }
    await setDetector(c.detector, name);
    if (state.open !== c) return undefined; // back to the list (or another one) meanwhile
    if (name && !player.frames.some((f) => f.name === name) && !state.window) {
      return showOnPlayer(c); // the detector's newest hours did not reach back that far
    }
    return undefined;
  }
  if (name) await player.show(player.frames.findIndex((f) => f.name === name));
  return refreshTracks();
}

function renderCandidate(c) {
  $("cand-id").textContent = c.id;
  $("cand-status").replaceWith(Object.assign(statusBadge(c.status), { id: "cand-status" }));
  $("cand-known").replaceChildren(c.known ? el("span", { className: "known" }, `known: ${c.known}`) : "");
  const direction = typeof c.direction_deg === "number" ? ` toward ${c.direction_deg.toFixed(0)}°` : "";
  $("cand-summary").textContent =
    `${c.detector.toUpperCase()} · score ${num(c.score)} · SNR ${num(c.snr)} · ` +
    `${c.n_frames} frames · ${num(c.speed_px_per_hour)} px/h${direction} · ` +
    `${utc(c.first_seen_at)} – ${utc(c.last_seen_at)} UTC`;

  const cutout = $("cutout");
  cutout.replaceChildren(c.cutout_url ? "" : el("p", { className: "dim" }, "no cutout strip yet"));
  if (c.cutout_url) {
    // redrawn as the track grows: the cache key follows the candidate's last change
    const url = `${c.cutout_url}?v=${encodeURIComponent(c.updated_at || c.n_frames)}`;
    const img = el("img", { alt: `cutout strip of ${c.id}` });
    cutout.append(img);
    loadImage(url)
      .then(({ src }) => {
        img.src = src;
      })
      .catch((err) => showError(err, "cutout strip"));
  }

  $("report-text").textContent = c.report_text || "(no report text yet)";
  const rows = c.detections.map((d) => {
    const row = el(
      "tr",
      { title: "show this frame" },
      el("td", {}, utc(d.observed_at)),
      el("td", { className: "dim" }, d.file),
      el("td", {}, num(d.x)),
      el("td", {}, num(d.y)),
      el("td", {}, num(d.snr)),
      el("td", {}, num(d.flux)),
    );
    row.addEventListener("click", () => {
      const i = player.frames.findIndex((f) => f.name === d.file);
      if (i >= 0) player.step(i - player.index);
    });
    return row;
  });
  $("positions").replaceChildren(...rows);

  const reviews = (c.reviews || []).map((r) =>
    el(
      "li",
      {},
      statusBadge(r.status),
      ` by ${r.by || "?"} at ${utc(r.at)} UTC`,
      r.note ? el("span", { className: "note" }, ` — ${r.note}`) : null,
    ),
  );
  $("reviews").replaceChildren(...reviews);
  for (const verdict of ["confirmed", "rejected", "reported"]) {
    $(`mark-${verdict}`).setAttribute("aria-pressed", String(c.status === verdict));
  }
}

/** The list again, and the player live again: an older candidate's window is left for the
 * newest hours (polling fetches new frames only then). */
function showList() {
  state.open = null;
  $("candidate-view").hidden = true;
  $("list-view").hidden = false;
  highlight(null);
  if (state.window) {
    state.window = null;
    reload();
  }
}

async function markCandidate(verdict) {
  const c = state.open;
  if (!c) return;
  if (!getToken()) {
    status("a verdict needs a token: enter it under Settings", "error");
    $("settings").open = true;
    $("token").focus();
    return;
  }
  const body = { status: verdict };
  const note = $("review-note").value.trim();
  if (note) body.note = note;
  const buttons = document.querySelectorAll(".verdict");
  buttons.forEach((b) => {
    b.disabled = true;
  });
  try {
    const url = `/api/candidates/${encodeURIComponent(c.id)}/status`;
    const updated = await api(url, { method: "POST", body, auth: true });
    state.open = updated;
    renderCandidate(updated);
    $("review-note").value = "";
    status(`${updated.id} marked ${updated.status}`);
  } catch (err) {
    showError(err, `marking ${c.id} ${verdict}`);
    return;
  } finally {
    buttons.forEach((b) => {
      b.disabled = false;
    });
  }
  await refreshCandidates(); // the list shows the new status too
}

// ---- the two views: the player (and candidates), the products ----------------------

const inProducts = () => !$("products-view").hidden;

function showView(which) {
  const productsView = which === "products";
  if (productsView) player.stop();
  document.querySelector("main").hidden = productsView;
  $("products-view").hidden = !productsView;
  document.body.classList.toggle("products", productsView);
  $("view-player").setAttribute("aria-pressed", String(!productsView));
  $("view-products").setAttribute("aria-pressed", String(productsView));
}

function route() {
  const shown = location.hash.match(/^#\/products(?:\/(\d{4}-\d\d-\d\d)(?:\/(\d\d))?)?$/);
  if (shown) {
    showView("products");
    products.open(shown[1], shown[2]);
    return;
  }
  showView("player");
  const match = location.hash.match(/^#\/candidates\/(.+)$/);
  if (match) openCandidate(decodeURIComponent(match[1]));
  else showList();
}

// ---- the draft report ------------------------------------------------------------

/** The draft's heading for ``frame``: its camera, day and array size (binned frames are
 * 512 or 256 pixels a side; the positions are that array's). */
export function draftHeading(frame) {
  const { naxis1, naxis2 } = geometry(frame);
  return (
    `Camera: ${frame.detector.toUpperCase()}  Date: ${frame.observed_at.slice(0, 10)}  ` +
    `Image ${naxis1}x${naxis2}, pixel (0,0) = lower-left corner as displayed (FITS array pixels)`
  );
}

function addDraftLine(frame, x, y) {
  const area = $("draft-report");
  const heading = draftHeading(frame);
  const headings = () => area.value.match(/^Camera: .*$/gm) || [];
  const last = headings().pop();
  // a new heading when the camera or the image size changes (a new day is said per line)
  const sansDate = (h) => h.replace(/Date: \S+/, "");
  if (!area.value.trim()) area.value = `${heading}\n`;
  else if (last && sansDate(last) !== sansDate(heading)) {
    if (!area.value.endsWith("\n")) area.value += "\n";
    area.value += `${heading}\n`;
  }
  const date = (headings().pop() || "").match(/Date: (\d{4}-\d\d-\d\d)/);
  const day = frame.observed_at.slice(0, 10);
  const stamp = date && date[1] !== day ? `${day} ${hhmm(frame.observed_at)}` : hhmm(frame.observed_at);
  area.value += `${stamp} ${x}, ${y}\n`;
  area.scrollTop = area.scrollHeight;
  localStorage.setItem(DRAFT_KEY, area.value);
}

// ---- live updates ----------------------------------------------------------------

let polling = false;
let pausedForToken = false;

async function poll() {
  if (polling || document.hidden) return;
  if (readsRefused()) {
    // every refused request counts against the viewer's throttle: ask nothing until the
    // token is changed in Settings (the token's "change" resumes at once)
    if (!pausedForToken) {
      pausedForToken = true;
      const why = getToken() ? "the viewer refused the token" : "the viewer wants a token";
      status(`live updates paused: ${why} (401); enter or change it under Settings`, "error");
      $("live").classList.add("stale");
      $("live").textContent = "paused";
    }
    return;
  }
  if (pausedForToken) {
    pausedForToken = false;
    $("live").textContent = "live";
    status("live updates resumed with the new token");
  }
  polling = true;
  const gen = state.loadGen;
  try {
    if (!player.frames.length && !state.window) {
      await reload(); // an empty store (or range) gets its first frames
    } else {
      if (!state.window) {
        const newest = player.frames[player.frames.length - 1].observed_at;
        const fresh = await fetchFrames(state.detector, newest);
        if (gen === state.loadGen) {
          const added = player.extend(fresh);
          if (added) status(`${added} new ${state.detector.toUpperCase()} frame(s)`);
        }
      }
      await refreshCandidates();
    }
    $("live").classList.remove("stale");
  } catch (err) {
    showError(err, "live update");
    $("live").classList.add("stale");
  } finally {
    polling = false;
  }
}

// ---- controls and keys -----------------------------------------------------------

function bindControls() {
  $("view-products").addEventListener("click", () => {
    if (!inProducts()) location.hash = "#/products";
  });
  $("view-player").addEventListener("click", () => {
    if (inProducts()) location.hash = state.open ? `#/candidates/${encodeURIComponent(state.open.id)}` : "#/";
  });
  for (const d of ["c2", "c3"]) {
    $(`detector-${d}`).addEventListener("click", () => {
      state.window = null;
      setDetector(d);
    });
  }
  $("product").addEventListener("change", (e) => player.setProduct(e.target.value));
  $("range").addEventListener("change", (e) => {
    state.hours = Number(e.target.value);
    state.window = null;
    reload(player.frame && player.frame.name);
  });
  $("play").addEventListener("click", () => player.togglePlay());
  $("step-back").addEventListener("click", () => player.step(-1));
  $("step-forward").addEventListener("click", () => player.step(1));
  const speed = $("speed");
  const setSpeed = () => {
    const fps = Math.round(Number(speed.value));
    player.fps = Number.isFinite(fps) ? Math.min(Math.max(fps, 1), 30) : 5;
  };
  speed.addEventListener("input", setSpeed);
  setSpeed();
  $("slider").addEventListener("input", (e) => {
    player.stop();
    player.show(Number(e.target.value));
  });
  for (const z of [1, 2, 4]) $(`zoom-${z}`).addEventListener("click", () => player.setZoom(z));
  $("mark-a").addEventListener("click", () => player.mark("a"));
  $("mark-b").addEventListener("click", () => player.mark("b"));
  $("blink").addEventListener("click", () => player.toggleBlink());
  $("overlays").addEventListener("change", (e) => player.setOverlays(e.target.checked));

  for (const verdict of ["confirmed", "rejected", "reported"]) {
    $(`mark-${verdict}`).addEventListener("click", () => markCandidate(verdict));
  }
  $("copy-report").addEventListener("click", async () => {
    await copyText($("report-text").textContent);
    status("report copied");
  });
  const draft = $("draft-report");
  draft.value = localStorage.getItem(DRAFT_KEY) || "";
  draft.addEventListener("input", () => localStorage.setItem(DRAFT_KEY, draft.value));
  $("copy-draft").addEventListener("click", async () => {
    await copyText(draft.value);
    status("draft report copied");
  });
  $("clear-draft").addEventListener("click", () => {
    draft.value = "";
    localStorage.removeItem(DRAFT_KEY);
  });

  const token = $("token");
  const tokenState = () => {
    $("token-state").textContent = getToken()
      ? "Token saved in this browser; sent with verdicts (and reads, where asked)."
      : "No token yet: verdicts need one (`comet-pipeline token create NAME`).";
  };
  token.value = getToken();
  token.addEventListener("input", () => {
    setToken(token.value.trim());
    tokenState();
  });
  // a viewer that wanted a token for its reads shows nothing yet: load again with it; live
  // updates paused for a refused token resume with the new one
  token.addEventListener("change", () => {
    if (!player.frames.length) reload().then(route);
    else if (pausedForToken) poll();
  });
  tokenState();
}

const KEYS = {
  " ": () => player.togglePlay(),
  ArrowLeft: () => player.step(-1),
  ArrowRight: () => player.step(1),
  Home: () => player.step(-player.index),
  End: () => player.step(player.frames.length - 1 - player.index),
  a: () => player.mark("a"),
  s: () => player.mark("b"),
  b: () => player.toggleBlink(),
  "+": () => player.zoomBy(1),
  "=": () => player.zoomBy(1),
  "-": () => player.zoomBy(-1),
  0: () => player.setZoom(1),
  o: () => {
    const box = $("overlays");
    box.checked = !box.checked;
    player.setOverlays(box.checked);
  },
};

const SLIDER_KEYS = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"];

/** True when ``key`` on the focused element ``target`` means something of its own (typing,
 * a button's or a summary's click, a link's activation, a slider's move): the shortcut
 * gives way. */
export function keyIsTheElements(target, key) {
  if (!(target instanceof Element)) return false;
  if (target.matches("textarea, select, input:not([type=range]), [contenteditable]")) return true;
  if (target.matches("button, summary, a[href]")) return key === " " || key === "Enter";
  if (target.matches("input[type=range]")) return SLIDER_KEYS.includes(key);
  return false;
}

function bindKeys() {
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (keyIsTheElements(e.target, e.key)) return;
    if (inProducts()) {
      // the player is out of sight: only the hour steps
      const delta = { ArrowLeft: -1, ArrowRight: 1 }[e.key];
      if (delta) {
        e.preventDefault();
        products.step(delta);
      }
      return;
    }
    const action = KEYS[e.key];
    if (!action) return;
    e.preventDefault(); // no page scroll
    action();
  });
}

// ---- start -----------------------------------------------------------------------

bindControls();
bindKeys();
const pathMatch = location.pathname.match(/^\/candidates\/(.+)$/);
if (pathMatch) history.replaceState(null, "", `/#/candidates/${pathMatch[1]}`);
window.addEventListener("hashchange", route);
reload().then(route);
setInterval(poll, POLL_MS);
