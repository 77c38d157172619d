// reelcast web page, the what-if card: after a prediction, vary one input of the film (a slider for
// budget, release month and runtime; an alternative for the director; the trailer with and without) and
// redraw the curve POST /whatif returns. Uses app.js's helpers ($, el, pct, money, modelInfo, ...).
"use strict";

const WHATIF = {
  budget_musd: {
    name: "Budget",
    min: 10, max: 300, step: 10, fallback: 60,
    from: () => $("fact-budget").value,
    show: (v) => money(v),
    vary: () => ({ field: "budget_musd", from: 10, to: 300, steps: 30 }),
  },
  release_date: {
    name: "Release month",
    min: 1, max: 12, step: 1, fallback: 6,
    from: () => ($("fact-date").value ? Number($("fact-date").value.slice(5, 7)) : ""),
    show: (v) => new Date(2000, v - 1, 1).toLocaleString("en", { month: "long" }),
    vary: () => ({ field: "release_date" }),
  },
  runtime: {
    name: "Runtime",
    min: 60, max: 240, step: 10, fallback: 120,
    from: () => $("fact-runtime").value,
    show: (v) => `${v} min`,
    vary: () => ({ field: "runtime", from: 60, to: 240, steps: 19 }),
  },
  director: { name: "Director", categorical: true },
  trailer: { name: "Trailer", categorical: true },
};
// Lowest class lightest, the highest in the page's accent colour.
const CLASS_COLOURS = ["#e6e9ef", "#d3d9e3", "#bcc5d3", "#a3afc0", "#f6c9a8", "#ee9f6f", "#dd6d35", "#c2410c"];
const SVG = "http://www.w3.org/2000/svg";
const DEBOUNCE_MS = 250;

const whatif = { film: null, curve: null, asked: 0, timer: null, cache: new Map() };

// The film's release date in the chosen month: its own year and day, or the first of next year's month.
function releaseDate(month) {
  const given = $("fact-date").value;
  const year = given ? given.slice(0, 4) : String(new Date().getFullYear() + 1);
  const day = given ? Math.min(Number(given.slice(8, 10)), 28) : 1;
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// The inputs of this model a what-if can move, in the select's order.
function variableFields(info, film) {
  const fields = ["budget_musd", "release_date", "runtime", "director"].filter(
    (f) => info.metadata_fields.includes(f) || (f === "release_date" && info.metadata_fields.includes("year")),
  );
  if (info.uses_trailers && info.media_mode !== "simulated" && film.trailer_url) fields.push("trailer");
  return fields;
}

function configure() {
  const field = $("whatif-field").value;
  const spec = WHATIF[field];
  $("whatif-slider-field").hidden = Boolean(spec.categorical);
  $("whatif-alt-field").hidden = field !== "director";
  if (!spec.categorical) {
    const slider = $("whatif-slider");
    slider.min = spec.min;
    slider.max = spec.max;
    slider.step = spec.step;
    const given = Number(spec.from());
    const start = spec.from() === "" || !Number.isFinite(given) ? spec.fallback : given;
    slider.value = Math.min(Math.max(Math.round(start / spec.step) * spec.step, spec.min), spec.max);
    $("whatif-slider-label").textContent = spec.name;
  }
  syncValue();
}

function syncValue() {
  const spec = WHATIF[$("whatif-field").value];
  $("whatif-value").textContent = spec.categorical ? "" : spec.show(Number($("whatif-slider").value));
}

// The /whatif body: the predicted film with the slider's value, and the sweep of the chosen field.
function whatifBody() {
  const field = $("whatif-field").value;
  const spec = WHATIF[field];
  const film = { ...whatif.film, metadata: { ...(whatif.film.metadata || {}) } };
  if (!spec.categorical) {
    // The sweep sets the field at every point; a month sweep takes the year (and day) from the film.
    if (field === "release_date" && !film.metadata.release_date) film.metadata.release_date = releaseDate(1);
    return { ...film, vary: [spec.vary()] };
  }
  if (field === "trailer") return { ...film, vary: [{ field: "trailer", values: ["with", "without"] }] };
  const alt = $("whatif-alt").value.trim();
  const current = film.metadata.director || "";
  return { ...film, vary: [{ field: "director", values: alt ? [current, alt] : [current] }] };
}

function schedule() {
  syncValue();
  clearTimeout(whatif.timer);
  whatif.timer = setTimeout(ask, DEBOUNCE_MS);
}

async function ask() {
  const body = whatifBody();
  const key = JSON.stringify(body);
  const asked = ++whatif.asked;
  let curve = whatif.cache.get(key);
  if (!curve) {
    $("whatif-note").textContent = "Predicting…";
    try {
      const r = await fetch("/whatif", {
        method: "POST",
        headers: { "Content-Type": "application/json", ...authHeaders() },
        body: key,
      });
      const answer = await r.json().catch(() => null);
      if (!r.ok) throw new Error(errorText(r.status, answer));
      curve = answer;
      whatif.cache.set(key, curve);
    } catch (e) {
      if (asked === whatif.asked) $("whatif-note").textContent = e.message;
      return;
    }
  }
  if (asked !== whatif.asked) return; // a newer request is on its way
  whatif.curve = curve;
  draw();
}

function currentPoint(curve) {
  const spec = WHATIF[curve.field];
  if (spec.categorical) return curve.points[curve.points.length - 1];
  const v = Number($("whatif-slider").value);
  const value = (p) => (curve.field === "release_date" ? Number(String(p.value).slice(5, 7)) : Number(p.value));
  return curve.points.reduce((best, p) => (Math.abs(value(p) - v) < Math.abs(value(best) - v) ? p : best));
}

function draw() {
  const curve = whatif.curve;
  const box = $("whatif-chart");
  box.replaceChildren();
  const point = currentPoint(curve);
  box.dataset.field = curve.field;
  box.dataset.value = String(point.value);
  box.append(WHATIF[curve.field].categorical ? categoricalChart(curve) : curveChart(curve, point));
  const rev = point.revenue;
  const interval = rev && rev.intervals["80"];
  const revenue = rev
    ? ` · revenue ${money(rev.median_musd)} median${interval ? ` (80%: ${money(interval[0])} – ${money(interval[1])})` : ""}`
    : "";
  const season = point.season ? ` (${point.season})` : "";
  const label = WHATIF[curve.field].categorical ? point.label || "none" : WHATIF[curve.field].show(Number($("whatif-slider").value));
  $("whatif-readout").textContent =
    `${label}${season}: ${point.class_name}, expected class ${(point.expected_class + 1).toFixed(1)} of ${CLASS_COUNT}${revenue}`;
  $("whatif-note").textContent =
    curve.field === "director" && curve.points.length === 1
      ? "Type another director to compare their record with this film's."
      : "Shaded: the chance of each class; line: the expected class.";
}

// Stacked class probabilities along the sweep, the expected class as a line, a marker at the slider.
function curveChart(curve, point) {
  const W = 600, H = 200, padL = 0, padR = 0, padT = 0, padB = 0;
  const n = curve.points.length;
  const x = (i) => padL + ((W - padL - padR) * i) / Math.max(n - 1, 1);
  const y = (v) => padT + (H - padT - padB) * (1 - v);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "curve" });
  root.dataset.points = String(n);
  const below = new Array(n).fill(0);
  for (let k = 0; k < CLASS_COUNT; k++) {
    const top = curve.points.map((p, i) => below[i] + p.probabilities[k]);
    const upper = top.map((v, i) => `${x(i)},${y(v)}`);
    const lower = below.map((v, i) => `${x(i)},${y(v)}`).reverse();
    root.append(svg("polygon", { points: [...upper, ...lower].join(" "), fill: CLASS_COLOURS[k], class: "band" }));
    top.forEach((v, i) => (below[i] = v));
  }
  const line = curve.points.map((p, i) => `${x(i)},${y(p.expected_class / (CLASS_COUNT - 1))}`).join(" ");
  root.append(svg("polyline", { points: line, class: "expected", fill: "none" }));
  const at = x(curve.points.indexOf(point));
  root.append(svg("line", { x1: at, x2: at, y1: padT, y2: H - padB, class: "marker" }));
  // The ends of the axis in HTML below the picture: SVG text would stretch with the chart's width.
  const spec = WHATIF[curve.field];
  const end = (i) => spec.show(curve.field === "release_date" ? Number(String(curve.points[i].value).slice(5, 7)) : Number(curve.points[i].value));
  const axis = el("div", "axis");
  axis.append(el("span", "", end(0)), el("span", "", end(n - 1)));
  const figure = el("div", "");
  figure.append(root, axis);
  return figure;
}

// One 100% bar per alternative (this film's director against another, with and without the trailer).
function categoricalChart(curve) {
  const list = el("div", "whatif-bars");
  for (const p of curve.points) {
    const row = el("div", "whatif-bar");
    const bar = el("div", "stack");
    p.probabilities.forEach((prob, k) => {
      const part = el("span", "");
      part.style.width = `${100 * prob}%`;
      part.style.background = CLASS_COLOURS[k];
      bar.append(part);
    });
    const name = curve.field === "trailer" ? `${p.value} trailer` : p.label || "none";
    row.append(el("span", "name", name), bar, el("span", "value", p.class_name));
    list.append(row);
  }
  return list;
}

function legend() {
  const box = $("whatif-legend");
  box.replaceChildren(
    ...modelInfo.class_names.map((name, k) => {
      const item = el("span", "key", name);
      const swatch = el("span", "swatch");
      swatch.style.background = CLASS_COLOURS[k];
      item.prepend(swatch);
      return item;
    }),
  );
}

document.addEventListener("reelcast:prediction", () => {
  if (!modelInfo) return;
  const meta = metadataPayload();
  const url = $("trailer-url").value.trim();
  whatif.film = {
    description: $("description").value.trim(),
    title: $("title").value.trim(),
    ...(meta ? { metadata: meta } : {}),
    ...(url && !$("trailer-url").disabled ? { trailer_url: url } : {}),
  };
  const fields = variableFields(modelInfo, whatif.film);
  const card = $("whatif");
  card.hidden = fields.length === 0;
  if (card.hidden) return;
  const select = $("whatif-field");
  const before = select.value;
  select.replaceChildren(...fields.map((f) => {
    const option = el("option", "", WHATIF[f].name);
    option.value = f;
    return option;
  }));
  select.value = fields.includes(before) ? before : fields[0];
  legend();
  configure();
  ask();
});
$("whatif-field").addEventListener("change", () => {
  configure();
  schedule();
});
$("whatif-slider").addEventListener("input", schedule);
$("whatif-alt").addEventListener("input", schedule);
