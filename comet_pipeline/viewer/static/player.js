// The player: one detector's frames over a time range, played, stepped, blinked, zoomed
// and panned, with the pixel under the pointer and the candidates' tracks drawn on top.

import { Preloader, loadImage, showError } from "./api.js";

/** The displayed image's size: every full product is 1024 px a side, a binned frame's
 * (512 or 256 array pixels a side) scaled up; the overlay's viewBox is this too. */
export const DISPLAY = 1024;
/** The player's size in CSS pixels at 1x: the 512 px products at native pixels. */
const VIEW = 512;
const ZOOMS = [1, 2, 4];
const PRELOAD_AHEAD = 20;

// Each choice of the product menu, as the frame products to try in order: `small` (512 px)
// for 1x, `full` (1024 px) when zoomed past 512 (the registry,
// comet_pipeline/imaging/products/registry.py, has none for calibrated: its 512 px preview
// is shown enlarged). A frame from an older run may lack some.
export const PRODUCTS = {
  processed: { label: "processed", small: ["preview", "processed_png"], full: ["processed_png"] },
  difference: {
    label: "running difference",
    small: ["difference_preview", "difference_png"],
    full: ["difference_png"],
  },
  calibrated: { label: "calibrated", small: ["calibrated_preview"], full: [] },
};

// ---- orientation (comet_pipeline/imaging/orientation.py) ----------------------------
// FITS array pixels: x = column, y = row, 0-based, (0,0) at the LOWER-LEFT as displayed.
// The PNG's row 0 is its top, so an unrolled frame is displayed flipped vertically; a frame
// rolled by ~180 deg is displayed flipped horizontally instead.

/** True when a frame is rolled by ~180 deg (|CROTA| > 90): the API's `roll_deg` (CROTA1).
 * Frames processed before the store kept it have null, and are taken as unrolled. */
export function isRolled(frame) {
  const roll = frame && frame.roll_deg;
  if (typeof roll !== "number") return false;
  const wrapped = ((((roll + 180) % 360) + 360) % 360) - 180;
  return Math.abs(wrapped) > 90;
}

/** What maps the displayed image to ``frame``'s array: its size (the API's naxis1/naxis2;
 * null for frames processed before the store kept them, taken as 1024) and its roll. */
export function geometry(frame) {
  const size = (n) => (Number.isInteger(n) && n > 0 ? n : DISPLAY);
  return {
    naxis1: size(frame && frame.naxis1),
    naxis2: size(frame && frame.naxis2),
    rolled: isRolled(frame),
  };
}

/** The array flipped for display (row 0 at the top, north up) and back: its own inverse. */
function flip(x, y, { naxis1, naxis2, rolled }) {
  return rolled ? [naxis1 - 1 - x, y] : [x, naxis2 - 1 - y];
}

/** A point of the displayed image (viewBox units: 0..DISPLAY, (0,0) its top-left corner)
 * -> ``frame``'s FITS array coordinates (0-based, pixel i centred on i): orientation.py's
 * png_to_fits with size DISPLAY, for a display pixel j = u - 0.5. */
export function displayToArray(u, v, frame) {
  const g = geometry(frame);
  return flip((u * g.naxis1) / DISPLAY - 0.5, (v * g.naxis2) / DISPLAY - 0.5, g);
}

/** ``frame``'s FITS array coordinates -> the point of the displayed image (viewBox units)
 * where that pixel's centre is drawn. Inverse of displayToArray. */
export function arrayToDisplay(x, y, frame) {
  const g = geometry(frame);
  const [xp, yp] = flip(x, y, g);
  return [((xp + 0.5) * DISPLAY) / g.naxis1, ((yp + 0.5) * DISPLAY) / g.naxis2];
}

/** The FITS array pixel (integers) of ``frame`` under display point (u, v). */
export function arrayPixelAt(u, v, frame) {
  const g = geometry(frame);
  const cell = (w, n) => Math.min(Math.max(Math.floor((w * n) / DISPLAY), 0), n - 1);
  return flip(cell(u, g.naxis1), cell(v, g.naxis2), g);
}

/** Straight-line least-squares fit of x(t), y(t) over the detections: the track's ends. */
function fittedEnds(dets) {
  const t = dets.map((d) => Date.parse(d.observed_at));
  const n = dets.length;
  const mt = t.reduce((a, b) => a + b, 0) / n;
  const fit = (vals) => {
    const mv = vals.reduce((a, b) => a + b, 0) / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i += 1) {
      num += (t[i] - mt) * (vals[i] - mv);
      den += (t[i] - mt) ** 2;
    }
    const slope = den ? num / den : 0;
    return (at) => mv + slope * (at - mt);
  };
  const fx = fit(dets.map((d) => d.x));
  const fy = fit(dets.map((d) => d.y));
  const ends = [Math.min(...t), Math.max(...t)];
  return ends.map((at) => [fx(at), fy(at)]);
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

const $ = (id) => document.getElementById(id);
const hhmm = (iso) => iso.slice(11, 16);

export class Player {
  /** ``onPick(frame, x, y)``: a click (not a drag) on FITS pixel (x, y) of ``frame``. */
  constructor({ onPick }) {
    this.onPick = onPick;
    this.frames = [];
    this.index = -1;
    this.product = "processed";
    this.zoom = 1;
    this.pan = { x: 0, y: 0 };
    this.fps = 5;
    this.mode = null; // "play", "blink" or null
    this.gen = 0; // bumped to stop a running loop
    this.seq = 0; // the latest show(): older loads finishing late are dropped
    this.marks = { a: null, b: null }; // frame names
    this.tracks = []; // [{id, rank, known, selected, detections}]
    this.overlays = true;
    this.firstShown = false;
    this.preloader = new Preloader(3);
    this.img = $("player-image");
    this.stage = $("stage");
    this.viewport = $("viewport");
    this.cross = svg("g", { class: "cross", visibility: "hidden" });
    this.cross.append(svg("line", { class: "h" }), svg("line", { class: "v" }));
    this.trackLayer = svg("g", { class: "tracks" });
    $("overlay").append(this.trackLayer, this.cross);
    this.bindPointer();
    this.applyTransform();
  }

  get frame() {
    return this.frames[this.index];
  }

  get atNewest() {
    return this.index === this.frames.length - 1;
  }

  // ---- frames ------------------------------------------------------------------------

  /** A new list (detector or range changed): shows ``name`` if given, else the newest. */
  setFrames(frames, name) {
    this.stop();
    this.frames = frames;
    this.marks = { a: null, b: null };
    this.updateMarks();
    const at = frames.findIndex((f) => f.name === name);
    this.updateRange();
    if (!frames.length) {
      this.index = -1;
      this.display(null, null, "no frames in this range yet");
      return;
    }
    this.show(at >= 0 ? at : frames.length - 1);
  }

  /** Frames that arrived since: appended; followed when the newest one was showing. */
  extend(more) {
    const known = new Set(this.frames.map((f) => f.name));
    const fresh = more.filter((f) => !known.has(f.name));
    if (!fresh.length) return 0;
    const follow = this.atNewest && this.mode === null;
    const showing = this.frame;
    const at = (f) => Date.parse(f.observed_at);
    this.frames = [...this.frames, ...fresh].sort((a, b) => at(a) - at(b));
    this.index = this.frames.indexOf(showing);
    this.updateRange();
    if (follow || this.index < 0) this.show(this.frames.length - 1);
    else this.updateIndex();
    return fresh.length;
  }

  updateRange() {
    const slider = $("slider");
    slider.max = String(Math.max(this.frames.length - 1, 0));
    slider.disabled = this.frames.length < 2;
    const first = this.frames[0];
    const last = this.frames[this.frames.length - 1];
    $("range-start").textContent = first ? `${first.observed_at.slice(0, 16)}Z` : "";
    $("range-end").textContent = last ? `${last.observed_at.slice(0, 16)}Z` : "";
  }

  updateIndex() {
    $("slider").value = String(this.index);
    $("frame-index").textContent = this.frames.length
      ? `frame ${this.index + 1} of ${this.frames.length}`
      : "";
  }

  /** The product of ``frame`` to show at the current zoom (its name), or undefined. */
  productFor(frame) {
    const spec = PRODUCTS[this.product];
    const names = this.zoom > 1 ? [...spec.full, ...spec.small] : spec.small;
    return names.find((n) => frame.products[n]);
  }

  /** The URL of the current product of ``frame`` at the current zoom, or null. */
  urlFor(frame) {
    const name = this.productFor(frame);
    return name ? frame.products[name] : null;
  }

  /** Show frame ``i`` once its image is decoded; resolves when shown (or given up). */
  async show(i) {
    if (!this.frames.length) return;
    this.index = Math.min(Math.max(i, 0), this.frames.length - 1);
    const frame = this.frames[this.index];
    const seq = ++this.seq;
    this.updateIndex();
    const url = this.urlFor(frame);
    if (!url) {
      this.preload();
      this.display(frame, null, `no ${PRODUCTS[this.product].label} image for this frame`);
      return;
    }
    try {
      const loading = loadImage(url); // asked for first, then the frames after it
      this.preload();
      const { src } = await loading;
      if (seq === this.seq) this.display(frame, src);
    } catch (err) {
      if (seq !== this.seq) return;
      this.display(frame, null, `${frame.name}: ${err.message}`);
      showError(err, `frame ${frame.name}`);
    }
  }

  /** Put ``frame`` on screen: its image (``src``), or ``why`` there is none. */
  display(frame, src, why) {
    const time = $("frame-time");
    this.img.dataset.frameName = frame ? frame.name : "";
    time.textContent = frame ? frame.observed_at : "";
    time.dateTime = frame ? frame.observed_at : "";
    const message = $("frame-message");
    const { naxis1, naxis2 } = geometry(frame);
    $("array-size").textContent = `${naxis1}×${naxis2}`;
    // zoomed, with no 1024 px product (calibrated has none): its 512 px preview, enlarged
    const name = frame && src ? this.productFor(frame) : undefined;
    const enlarged = this.zoom > 1 && name && !PRODUCTS[this.product].full.includes(name);
    const note = $("zoom-note");
    note.hidden = !enlarged;
    note.textContent = enlarged ? `${PRODUCTS[this.product].label}: 512 px preview` : "";
    if (src) {
      this.img.src = src;
      this.img.classList.remove("missing");
      message.hidden = true;
      if (!this.firstShown) {
        this.firstShown = true;
        performance.mark("first-frame");
      }
    } else {
      this.img.removeAttribute("src");
      this.img.classList.add("missing");
      message.textContent = why;
      message.hidden = false;
    }
    this.drawTracks();
  }

  /** Decode the frames Play shows next (it loops: after the newest, the oldest), or both
   * blink frames, ahead of showing them. */
  preload() {
    const n = this.frames.length;
    let picks = [];
    if (this.mode === "blink") {
      picks = [this.marks.a, this.marks.b].map((name) => this.frames.find((f) => f.name === name));
    } else {
      for (let k = 1; k <= Math.min(PRELOAD_AHEAD, n - 1); k += 1) {
        picks.push(this.frames[(this.index + k) % n]);
      }
    }
    this.preloader.want(picks.filter(Boolean).map((f) => this.urlFor(f)).filter(Boolean));
  }

  // ---- playing and blinking ---------------------------------------------------------

  step(delta) {
    this.stop();
    return this.show(this.index + delta);
  }

  togglePlay() {
    if (this.mode === "play") this.stop();
    else this.play();
  }

  play() {
    if (this.frames.length < 2) return;
    this.start("play", () => (this.index + 1) % this.frames.length);
  }

  mark(which) {
    if (!this.frame) return;
    this.marks[which] = this.frame.name;
    this.updateMarks();
  }

  toggleBlink() {
    if (this.mode === "blink") {
      this.stop();
      return;
    }
    const a = this.frames.findIndex((f) => f.name === this.marks.a);
    const b = this.frames.findIndex((f) => f.name === this.marks.b);
    if (a < 0 || b < 0 || a === b) {
      showError("mark two different frames first: A (key a) and B (key s)", "blink");
      return;
    }
    this.start("blink", () => (this.index === a ? b : a));
  }

  /** Run ``next`` every 1/fps s; each step waits for its image, so none is skipped. */
  async start(mode, next) {
    this.stop();
    this.mode = mode;
    const gen = this.gen;
    this.updateButtons();
    this.preload();
    let last = performance.now();
    while (gen === this.gen) {
      const wait = last + 1000 / this.fps - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (gen !== this.gen) return;
      last = performance.now();
      await this.show(next());
    }
  }

  stop() {
    this.gen += 1;
    this.mode = null;
    this.updateButtons();
  }

  updateButtons() {
    $("play").textContent = this.mode === "play" ? "Pause" : "Play";
    $("play").setAttribute("aria-pressed", String(this.mode === "play"));
    $("blink").setAttribute("aria-pressed", String(this.mode === "blink"));
  }

  updateMarks() {
    const at = (name) => {
      const f = this.frames.find((fr) => fr.name === name);
      return f ? hhmm(f.observed_at) : "–";
    };
    const { a, b } = this.marks;
    $("blink-marks").textContent = a || b ? `A ${at(a)} · B ${at(b)}` : "";
  }

  setProduct(product) {
    this.product = product;
    if (this.frame) this.show(this.index);
  }

  // ---- zoom and pan -----------------------------------------------------------------

  /** Zoom to ``z``, keeping the image point under viewport pixel (ax, ay) where it is. */
  setZoom(z, ax = VIEW / 2, ay = VIEW / 2) {
    if (!ZOOMS.includes(z) || z === this.zoom) return;
    const old = VIEW * this.zoom;
    const size = VIEW * z;
    const fx = (ax - this.pan.x) / old;
    const fy = (ay - this.pan.y) / old;
    const wasFull = this.zoom > 1;
    this.zoom = z;
    this.pan = { x: ax - fx * size, y: ay - fy * size };
    this.applyTransform();
    for (const zoom of ZOOMS) $(`zoom-${zoom}`).setAttribute("aria-pressed", String(zoom === z));
    if (wasFull !== z > 1 && this.frame) this.show(this.index); // 512 <-> 1024 product
    else this.drawTracks();
  }

  zoomBy(steps, ax, ay) {
    const i = ZOOMS.indexOf(this.zoom) + steps;
    this.setZoom(ZOOMS[Math.min(Math.max(i, 0), ZOOMS.length - 1)], ax, ay);
  }

  applyTransform() {
    const size = VIEW * this.zoom;
    // the image always covers the viewport: no panning past its edges
    this.pan.x = Math.min(0, Math.max(VIEW - size, this.pan.x));
    this.pan.y = Math.min(0, Math.max(VIEW - size, this.pan.y));
    this.stage.style.width = `${size}px`;
    this.stage.style.height = `${size}px`;
    this.stage.style.transform = `translate(${this.pan.x}px, ${this.pan.y}px)`;
    this.viewport.classList.toggle("zoomed", this.zoom > 1);
  }

  // ---- the pointer: crosshair, readout, clicks, drags, wheel --------------------------

  /** The point of the displayed image under a pointer event (viewBox units), or null. */
  pointAt(event) {
    const r = this.stage.getBoundingClientRect();
    const u = ((event.clientX - r.left) / r.width) * DISPLAY;
    const v = ((event.clientY - r.top) / r.height) * DISPLAY;
    const inside = u >= 0 && v >= 0 && u < DISPLAY && v < DISPLAY;
    return inside ? [u, v] : null;
  }

  bindPointer() {
    const vp = this.viewport;
    let drag = null;
    vp.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, pan: { ...this.pan }, moved: false };
      vp.setPointerCapture(e.pointerId);
    });
    vp.addEventListener("pointermove", (e) => {
      this.updateCross(e);
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.hypot(dx, dy) > 3) drag.moved = true;
      if (drag.moved && this.zoom > 1) {
        this.pan = { x: drag.pan.x + dx, y: drag.pan.y + dy };
        this.applyTransform();
      }
    });
    vp.addEventListener("pointerup", (e) => {
      const wasClick = drag && !drag.moved;
      drag = null;
      const point = this.pointAt(e);
      if (wasClick && point && this.frame) {
        const [x, y] = arrayPixelAt(point[0], point[1], this.frame);
        this.onPick(this.frame, x, y);
      }
    });
    vp.addEventListener("pointerleave", () => {
      this.cross.setAttribute("visibility", "hidden");
      $("readout").textContent = "–";
    });
    vp.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const r = vp.getBoundingClientRect();
        this.zoomBy(e.deltaY < 0 ? 1 : -1, e.clientX - r.left, e.clientY - r.top);
      },
      { passive: false },
    );
  }

  updateCross(event) {
    const point = this.pointAt(event);
    if (!point || !this.frame) {
      this.cross.setAttribute("visibility", "hidden");
      $("readout").textContent = "–";
      return;
    }
    const [x, y] = arrayPixelAt(point[0], point[1], this.frame);
    $("readout").textContent = `x ${x}, y ${y}`;
    // through the centre of that array pixel (a binned frame's covers 2 or 4 display px)
    const [cx, cy] = arrayToDisplay(x, y, this.frame);
    const [h, v] = this.cross.children;
    const set = (el, attrs) => Object.entries(attrs).forEach(([k, val]) => el.setAttribute(k, val));
    set(h, { x1: 0, x2: DISPLAY, y1: cy, y2: cy });
    set(v, { x1: cx, x2: cx, y1: 0, y2: DISPLAY });
    this.cross.setAttribute("visibility", "visible");
  }

  // ---- candidate tracks -------------------------------------------------------------

  setTracks(tracks) {
    this.tracks = tracks;
    this.drawTracks();
  }

  setOverlays(on) {
    this.overlays = on;
    this.drawTracks();
  }

  /** Markers on every detection, the fitted line through them, a ring on this frame's;
   * nothing is drawn inside the ring, so the object itself stays in plain view. */
  drawTracks() {
    const layer = this.trackLayer;
    layer.replaceChildren();
    if (!this.overlays || !this.frame) return;
    const u = 2 / this.zoom; // viewBox units per CSS pixel
    const ring = 10 * u;
    const shown = this.frame;
    const current = shown.name;
    // drawn over the displayed image, so every position (array pixels) is mapped with the
    // displayed frame's size and roll, whichever frame it was measured on
    const centre = (d) => arrayToDisplay(d.x, d.y, shown);
    for (const track of this.tracks) {
      const dets = track.detections;
      if (!dets.length) continue;
      const classes = ["track"];
      if (track.known) classes.push("known");
      if (track.selected) classes.push("selected");
      const g = svg("g", { class: classes.join(" ") });
      g.append(svg("title", {}, track.known ? `${track.id} (known: ${track.known})` : track.id));
      const here = dets.find((d) => d.file === current);
      const hc = here ? centre(here) : null;
      if (dets.length > 1) {
        const [a, b] = fittedEnds(dets).map(([x, y]) => centre({ x, y }));
        for (const [p, q] of outsideCircle(a, b, hc, ring + u)) {
          g.append(svg("line", { class: "fit", x1: p[0], y1: p[1], x2: q[0], y2: q[1] }));
        }
      }
      for (const d of dets) {
        const [cx, cy] = centre(d);
        if (hc && Math.hypot(cx - hc[0], cy - hc[1]) < ring + u) continue;
        g.append(svg("circle", { class: "det", cx, cy, r: 1.5 * u }));
      }
      if (hc) {
        const [cx, cy] = hc;
        g.append(svg("circle", { class: "here", cx, cy, r: ring }));
        const label = track.rank ? String(track.rank) : "";
        g.append(svg("text", { x: cx + 12 * u, y: cy - 8 * u, "font-size": 13 * u }, label));
      }
      layer.append(g);
    }
  }
}

/** The parts of segment a-b outside the circle (c, r); all of it when there is no c. */
function outsideCircle(a, b, c, r) {
  if (!c) return [[a, b]];
  const d = [b[0] - a[0], b[1] - a[1]];
  const f = [a[0] - c[0], a[1] - c[1]];
  const A = d[0] ** 2 + d[1] ** 2;
  const B = 2 * (f[0] * d[0] + f[1] * d[1]);
  const C = f[0] ** 2 + f[1] ** 2 - r * r;
  const disc = B * B - 4 * A * C;
  if (A === 0 || disc <= 0) return A === 0 ? [] : [[a, b]];
  const t1 = (-B - Math.sqrt(disc)) / (2 * A);
  const t2 = (-B + Math.sqrt(disc)) / (2 * A);
  const at = (t) => [a[0] + t * d[0], a[1] + t * d[1]];
  const parts = [];
  if (t1 > 0) parts.push([a, at(Math.min(t1, 1))]);
  if (t2 < 1) parts.push([at(Math.max(t2, 0)), b]);
  return parts;
}
