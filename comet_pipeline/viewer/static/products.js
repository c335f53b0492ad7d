// The Products view (#/products/<day>/<HH>): for a chosen hour the temporal composites (C2,
// C3), C2 on C3 and the hourly mosaic; for its day the featured-targets overlays, the daily
// mosaic and the summary's key facts (Kreutz placement, planets in the fields, gaps).
//
// Everything comes from /api/product-days, /api/composites, /api/mosaics and /api/featured;
// images go through loadImage (a token is sent where the viewer wants one), their URLs
// carrying the file's mtime so an hour that was made again is fetched again.

import { ApiError, api, loadImage, showError, status } from "./api.js";

const $ = (id) => document.getElementById(id);
const HOUR_MS = 3.6e6;

/** The four pictures of an hour, in the order the grid shows them. */
export const HOUR_SLOTS = [
  { id: "c2_temporal", title: "C2 temporal", hint: "three frames of the hour as R, G, B" },
  { id: "c3_temporal", title: "C3 temporal", hint: "three frames of the hour as R, G, B" },
  { id: "c2c3", title: "C2 + C3", hint: "C3 orange, C2 azure on the C3 grid" },
  { id: "mosaic", title: "Hourly mosaic", hint: "C2 reprojected into the C3 field" },
];

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "className") node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const hhmm = (iso) => iso.slice(11, 16);
const range = (pair, digits = 0) =>
  pair[0].toFixed(digits) === pair[1].toFixed(digits)
    ? pair[0].toFixed(digits)
    : `${pair[0].toFixed(digits)}–${pair[1].toFixed(digits)}`;
const versioned = (link) => `${link.url}?v=${encodeURIComponent(link.modified_at)}`;
/** "2025-06-10T03:00:00Z" -> the ISO start of that hour, as the listings give it. */
const hourKey = (iso) => new Date(Date.parse(iso)).toISOString().slice(0, 13);

export class ProductsView {
  constructor() {
    this.days = []; // ProductDay, newest first
    this.day = null; // "YYYY-MM-DD"
    this.hours = []; // "YYYY-MM-DDTHH" with any hourly product, in time order
    this.hour = null;
    this.byHour = new Map(); // hourKey -> {c2_temporal, c3_temporal, c2c3, mosaic}
    this.gen = 0; // bumped per day or hour change: late answers are dropped
    $("products-day").addEventListener("change", (e) => this.showDay(e.target.value));
    $("products-hour").addEventListener("change", (e) => this.showHour(e.target.value));
    $("products-prev").addEventListener("click", () => this.step(-1));
    $("products-next").addEventListener("click", () => this.step(1));
  }

  /** Open the view on ``day``/``hour`` ("YYYY-MM-DD", "HH"), or the newest day's last hour. */
  async open(day, hour) {
    try {
      this.days = (await api("/api/product-days")).days;
    } catch (err) {
      showError(err, "product days");
      return;
    }
    const options = this.days.map((d) => {
      const what = [
        d.composites ? `${d.composites} composites` : null,
        d.hourly_mosaics ? `${d.hourly_mosaics} mosaics` : null,
        d.featured ? "featured" : null,
      ].filter(Boolean);
      return el("option", { value: d.day }, `${d.day} (${what.join(", ") || "daily mosaic"})`);
    });
    if (day && !this.days.some((d) => d.day === day)) {
      options.unshift(el("option", { value: day }, `${day} (no products)`));
    }
    $("products-day").replaceChildren(...options);
    const chosen = day || (this.days[0] && this.days[0].day);
    if (!chosen) {
      this.clear("No composites, mosaics or featured targets on disk yet: `comet-pipeline " +
        "ingest-hour` (or the frame_composites, hourly_mosaic and featured_targets assets) " +
        "make them.");
      return;
    }
    await this.showDay(chosen, hour);
  }

  clear(message) {
    $("products-note").textContent = message;
    $("products-hour").replaceChildren();
    $("products-grid").replaceChildren();
    $("featured-day").textContent = "";
    $("featured-overlays").replaceChildren();
    $("featured-facts").replaceChildren();
  }

  /** Load the day's listings and featured summary, then show ``hour`` (or the last one). */
  async showDay(day, hour) {
    const gen = ++this.gen;
    this.day = day;
    $("products-day").value = day;
    const since = `${day}T00:00:00Z`;
    const until = new Date(Date.parse(since) + 24 * HOUR_MS).toISOString();
    const query = new URLSearchParams({ since, until });
    let composites;
    let mosaics;
    try {
      [composites, mosaics] = await Promise.all([
        api(`/api/composites?${query}`),
        api(`/api/mosaics?${query}`),
      ]);
    } catch (err) {
      showError(err, `products of ${day}`);
      return;
    }
    if (gen !== this.gen) return;
    this.byHour = new Map();
    const slot = (iso) => {
      const key = hourKey(iso);
      if (!this.byHour.has(key)) this.byHour.set(key, {});
      return this.byHour.get(key);
    };
    for (const c of composites.items) slot(c.hour)[c.label] = c;
    for (const m of mosaics.hourly) slot(m.hour).mosaic = m;
    this.hours = [...this.byHour.keys()].sort();
    $("products-hour").replaceChildren(
      ...this.hours.map((h) => {
        const count = Object.keys(this.byHour.get(h)).length;
        return el("option", { value: h }, `${h.slice(11, 13)}:00 UTC (${count}/4)`);
      }),
    );
    const wanted = hour !== undefined ? `${day}T${hour}` : null;
    const pick = wanted && this.hours.includes(wanted) ? wanted : this.hours[this.hours.length - 1];
    this.showDaily(mosaics.daily[0] || null);
    await Promise.all([pick ? this.showHour(pick) : this.noHour(wanted), this.showFeatured(day)]);
  }

  noHour(wanted) {
    this.hour = null;
    $("products-grid").replaceChildren();
    $("products-note").textContent = wanted
      ? `no composite or mosaic for ${wanted.slice(11, 13)}:00 UTC of ${this.day}`
      : `no composite or mosaic on ${this.day}`;
  }

  /** The hour's four pictures (a missing one says so in its place). */
  async showHour(hour) {
    this.hour = hour;
    $("products-hour").value = hour;
    const i = this.hours.indexOf(hour);
    $("products-prev").disabled = i <= 0;
    $("products-next").disabled = i < 0 || i >= this.hours.length - 1;
    const found = this.byHour.get(hour) || {};
    const hh = hour.slice(11, 13);
    $("products-note").textContent = `${this.day} ${hh}:00–${hh}:59 UTC`;
    const figures = HOUR_SLOTS.map((s) => figure(s.title, s.hint, found[s.id], `${s.id}-${hour}`));
    $("products-grid").replaceChildren(...figures);
    const id = `${this.day}/${hour.slice(11, 13)}`;
    if (location.hash !== `#/products/${id}`) history.replaceState(null, "", `#/products/${id}`);
  }

  /** The previous/next hour that has products (its day's list; the ends stop). */
  step(delta) {
    const i = this.hours.indexOf(this.hour) + delta;
    if (i >= 0 && i < this.hours.length) this.showHour(this.hours[i]);
  }

  showDaily(mosaic) {
    const holder = $("daily-mosaic");
    holder.replaceChildren(
      figure("Daily mosaic", "median of the day's hourly mosaics", mosaic, `daily-${this.day}`),
    );
  }

  async showFeatured(day) {
    $("featured-day").textContent = day;
    let summary;
    try {
      summary = await api(`/api/featured?day=${day}`);
    } catch (err) {
      if (day !== this.day) return;
      $("featured-overlays").replaceChildren();
      if (err instanceof ApiError && err.status === 404) {
        $("featured-facts").replaceChildren(
          el("p", { className: "dim" }, "No featured-targets summary for this day yet (the " +
            "featured_targets asset writes it)."),
        );
      } else {
        $("featured-facts").replaceChildren();
        showError(err, `featured targets of ${day}`);
      }
      return;
    }
    if (day !== this.day) return;
    $("featured-overlays").replaceChildren(
      ...summary.overlays.map((o) =>
        figure(`${o.detector.toUpperCase()} overlay`, "corridors and planets on the midday preview",
          o, `overlay-${o.detector}-${day}`),
      ),
    );
    $("featured-facts").replaceChildren(...facts(summary));
    status(`products of ${day}: ${this.hours.length} hour(s)`);
  }
}

/** A captioned picture that loads ``item.png`` (enlarged to full width on a click), or a
 * placeholder saying it is not there. */
function figure(title, hint, item, key) {
  const caption = el("figcaption", {}, el("b", {}, title), " ", el("span", { className: "dim" }, hint));
  const box = el("figure", { className: "product", "data-product": key });
  if (!item) {
    box.classList.add("absent");
    box.append(el("div", { className: "placeholder" }, "not made for this hour"), caption);
    return box;
  }
  const img = el("img", { alt: title, draggable: "false" });
  box.append(img, caption);
  const links = el("span", { className: "links" }, el("a", { href: item.png.url }, "PNG"));
  if (item.fits) links.append(" · ", el("a", { href: item.fits.url, download: "" }, "FITS"));
  caption.append(" ", links);
  img.title = "click to enlarge";
  img.addEventListener("click", () => box.classList.toggle("large"));
  loadImage(versioned(item.png))
    .then(({ src }) => {
      img.src = src;
    })
    .catch((err) => {
      box.classList.add("absent");
      showError(err, title);
    });
  return box;
}

/** The summary's key facts: Kreutz placement, planets in each field, gaps, corridors. */
export function facts(summary) {
  const kreutz = Object.entries(summary.kreutz_well_placed).map(([det, ok]) => {
    const env = summary.envelopes.find((e) => e.family === "Kreutz" && e.detector === det);
    const hours = env ? ` · ${range(env.hours_in_field, 1)} h in field` : "";
    return el(
      "li",
      { className: ok ? "good" : "poor", "data-detector": det },
      el("b", {}, det.toUpperCase()),
      ok ? " Kreutz corridor well placed" : " Kreutz corridor poorly placed",
      el("span", { className: "dim" }, hours),
    );
  });
  const planets = summary.planets.map((p) =>
    el(
      "tr",
      {},
      el("td", {}, p.detector.toUpperCase()),
      el("td", {}, p.planet),
      el("td", {}, `${hhmm(p.first)}–${hhmm(p.last)}`),
      el("td", {}, String(p.hours)),
    ),
  );
  const gapText = (gaps) =>
    gaps.length
      ? gaps.map((g) => `${hhmm(g.start)}–${hhmm(g.end) === "00:00" ? "24:00" : hhmm(g.end)} (${g.hours} h)`).join(", ")
      : "none";
  const gapRows = [el("li", { "data-gap": "pass" }, el("b", {}, "no downlink pass: "), gapText(summary.pass_gaps))];
  for (const det of Object.keys(summary.kreutz_well_placed)) {
    const mine = summary.data_gaps.filter((g) => g.detector === det);
    gapRows.push(
      el("li", { "data-gap": det }, el("b", {}, `no ${det.toUpperCase()} file: `), gapText(mine)),
    );
  }
  const corridors = summary.envelopes.map((e) =>
    el(
      "tr",
      { className: e.hours_in_field[1] > 0 ? "" : "dim" },
      el("td", {}, e.family),
      el("td", {}, e.detector.toUpperCase()),
      el("td", {}, `${range(e.entry_angle_deg)}°`),
      el("td", {}, `${range(e.heading_deg)}°`),
      el("td", {}, range(e.speed_px_h, 1)),
      el("td", {}, range(e.hours_in_field, 1)),
      el("td", {}, e.front_of_sun ? "front" : "behind"),
    ),
  );
  const table = (head, rows, id) =>
    el(
      "table",
      { className: "facts", id },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows),
    );
  return [
    el("h3", {}, "Kreutz"),
    el("ul", { className: "kreutz", id: "featured-kreutz" }, ...kreutz),
    el("h3", {}, "Planets in the fields ", el("span", { className: "dim" }, "(UTC)")),
    planets.length
      ? table(["det", "planet", "in field", "hours"], planets, "featured-planets")
      : el("p", { className: "dim", id: "featured-planets" }, "no planet in either field"),
    el("h3", {}, "Gaps ", el("span", { className: "dim" }, "(hours that will show nothing)")),
    el("ul", { className: "gaps", id: "featured-gaps" }, ...gapRows),
    el("h3", {}, "Corridors ", el("span", { className: "dim" }, "(at roll 0, ° from solar west)")),
    table(["family", "det", "entry", "heading", "px/h", "h in field", "side"], corridors, "featured-corridors"),
  ];
}
