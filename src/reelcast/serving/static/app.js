// reelcast web page: calls /model once, then /predict (JSON) or /predict/upload (multipart).
// All user-supplied text is put on the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

const form = $("predict-form");
const button = $("predict-btn");
const statusEl = $("status");
const errorEl = $("error");
const urlInput = $("trailer-url");
const fileInput = $("trailer-file");
const clearFile = $("clear-file");
const description = $("description");
const factFields = [...document.querySelectorAll("#facts .field[data-fields]")];

// The inputs as a studio analyst names them (the API's names stay in /model and /docs).
const INPUT_NAMES = {
  text: "Plot",
  tabular: "Facts before release",
  video: "Trailer pictures",
  audio: "Trailer sound",
  external: "Your own film features",
};
const CLASS_COUNT = 8;

let modelInfo = null;
// Whether POST /predict takes `explain` (servers without per-film reasons refuse unknown fields).
let explainable = false;

// With `reelcast serve --api-key`, the page asks for the key on the first 401 and keeps it for the tab.
function authHeaders() {
  const key = sessionStorage.getItem("reelcastApiKey");
  return key ? { "X-API-Key": key } : {};
}

function askForKey() {
  const key = window.prompt("This server needs an API key:");
  if (key && key.trim()) sessionStorage.setItem("reelcastApiKey", key.trim());
  return Boolean(key && key.trim());
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function pct(p, digits = 1) {
  return `${(100 * p).toFixed(digits)}%`;
}

function money(musd) {
  if (musd >= 1000) return `$${(musd / 1000).toFixed(2)} B`;
  if (musd >= 10) return `$${musd.toFixed(0)} M`;
  return `$${musd.toFixed(1)} M`;
}

function revenueRange(range) {
  if (range.max_musd === null) return `${money(range.min_musd)} or more`;
  if (range.min_musd <= 0) return `under ${money(range.max_musd)}`;
  return `${money(range.min_musd)} to ${money(range.max_musd)}`;
}

function listText(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function showError(message) {
  errorEl.textContent = message;
  errorEl.hidden = !message;
}

// FastAPI errors are {detail: "text"} or, for validation, {detail: [{loc, msg}, ...]}.
function errorText(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const where = (d.loc || []).filter((x) => x !== "body").join(".");
        return where ? `${where}: ${d.msg}` : d.msg;
      })
      .join("\n");
  }
  if (typeof detail === "string" && detail) return detail;
  return `The server answered ${status} without an explanation.`;
}

function setBusy(busy, message) {
  button.disabled = busy;
  button.textContent = busy ? "Predicting…" : "Predict";
  form.setAttribute("aria-busy", busy ? "true" : "false");
  statusEl.textContent = message || "";
}

// ---- the facts known before release ------------------------------------------------------------

const fieldInput = (field) => field.querySelector("input, select");
const fieldName = (field) => field.querySelector("label").firstChild.textContent.trim();
const shownFacts = () => factFields.filter((f) => !f.hidden && !$("facts").hidden);

// The fields the model reads and the form leaves empty, by their labels.
function emptyFacts() {
  return shownFacts()
    .filter((f) => fieldInput(f).value.trim() === "")
    .map(fieldName);
}

function syncMissingNotice() {
  const notice = $("missing-notice");
  const empty = emptyFacts();
  notice.replaceChildren();
  if (!empty.length) {
    notice.hidden = true;
    return;
  }
  const all = empty.length === shownFacts().length;
  notice.append(
    el("strong", "", all ? "All empty. " : `${empty.length} of ${shownFacts().length} empty: `),
    all
      ? `The model reads ${listText(empty.map((n) => n.toLowerCase()))}; without them it predicts from the plot alone.`
      : `${listText(empty)}. The model reads ${empty.length === 1 ? "it" : "them"}, and predicts without ${empty.length === 1 ? "it" : "them"}.`,
  );
  notice.hidden = false;
}

// The facts that are filled in, in the API's names (lists split on commas).
function metadataPayload() {
  if ($("facts").hidden) return null;
  const list = (id) => $(id).value.split(",").map((x) => x.trim()).filter(Boolean);
  const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
  const text = (id) => $(id).value.trim() || null;
  const values = {
    budget_musd: num("fact-budget"),
    release_date: $("fact-date").value || null,
    runtime: num("fact-runtime"),
    language: text("fact-language"),
    genres: list("fact-genres"),
    collection: text("fact-franchise"),
    director: text("fact-director"),
    cast: list("fact-cast"),
    companies: list("fact-companies"),
    countries: list("fact-countries"),
    keywords: list("fact-keywords"),
  };
  const shown = new Set(shownFacts().flatMap((f) => f.dataset.fields.split(" ")));
  const meta = {};
  for (const [k, v] of Object.entries(values)) {
    if (shown.has(k) && v !== null && !(Array.isArray(v) && v.length === 0)) meta[k] = v;
  }
  return Object.keys(meta).length ? meta : null;
}

// ---- the trailer --------------------------------------------------------------------------------

function syncTrailerInputs() {
  const hasFile = fileInput.files.length > 0;
  urlInput.disabled = hasFile;
  clearFile.hidden = !hasFile;
  fileInput.disabled = urlInput.value.trim() !== "";
  const hint = $("file-hint");
  if (hasFile) {
    const f = fileInput.files[0];
    hint.textContent = `${f.name} · ${(f.size / 2 ** 20).toFixed(1)} MB`;
  } else if (modelInfo) {
    hint.textContent = `Up to ${modelInfo.max_upload_mb} MB: ${modelInfo.allowed_extensions.join(" ")}`;
  }
}

function trailerNote(info) {
  const others = info.uses_metadata ? "the plot and the facts known before release" : "the plot alone";
  if (!info.uses_trailers) return `This model was trained without trailers: it reads ${others}, and would ignore a trailer.`;
  if (info.media_mode === "simulated") {
    return `This model was trained on simulated trailer features, so it cannot read a real trailer; it reads ${others}.`;
  }
  const parts = info.modalities.filter((m) => m === "video" || m === "audio");
  const what = parts.length === 2 ? "pictures and sound" : parts[0] === "video" ? "pictures" : "sound";
  return `The model reads the trailer's ${what} beside ${others}. Optional: without one it predicts from the rest.`;
}

// ---- what the page says about the model ---------------------------------------------------------

function factNames(info) {
  return factFields
    .filter((f) => f.dataset.fields.split(" ").some((x) => info.metadata_fields.includes(x)))
    .map((f) => fieldName(f).toLowerCase());
}

function renderModelSummary(info) {
  const reads = ["the plot"];
  if (info.uses_metadata) reads.push(`${factNames(info).length} facts known before release`);
  if (info.uses_trailers) reads.push("the trailer");
  let text = `Reads ${listText(reads)}`;
  const ev = info.evaluation;
  if (ev && ev.test.accuracy) {
    text += ` · right on ${pct(ev.test.accuracy.point, 0)} of ${ev.films.test} test films`;
    if (ev.test.one_away_accuracy) text += `, within one class on ${pct(ev.test.one_away_accuracy.point, 0)}`;
  }
  $("model-summary").textContent = text;
}

function renderReads(info) {
  const list = $("reads");
  list.replaceChildren();
  const item = (name, detail, used = true) => {
    const li = el("li", used ? "" : "not-read");
    li.append(el("span", "mark", used ? "✓" : "–"), el("strong", "", `${name}: `), el("span", "", detail));
    list.append(li);
  };
  if (info.modalities.includes("text")) {
    item("Plot", `the first ${info.max_text_tokens} word pieces (about ${Math.round(info.max_text_tokens * 0.75)} words)`);
  }
  if (info.uses_metadata) {
    const names = factNames(info);
    item("Facts before release", names.length ? listText(names) : "columns of the training table only");
  } else {
    item("Facts before release", "not read (trained without them)", false);
  }
  if (info.uses_trailers) {
    item("Trailer", info.media_mode === "simulated" ? "simulated features only" : "pictures and sound, when given");
  } else {
    item("Trailer", "not read (trained without trailers)", false);
  }
  if (info.modalities.includes("external")) item("Your own film features", "by film id, from the training table");
}

function renderTraining(info) {
  const ev = info.evaluation;
  const p = $("trained-on");
  if (ev) {
    const f = ev.films;
    const dated = ev.split.startsWith("date-") ? ", the newest held out" : "";
    let text =
      `${f.train.toLocaleString()} films to learn from, ${f.val.toLocaleString()} to tune on and ` +
      `${f.test.toLocaleString()} held back for the test below${dated}.`;
    const y = ev.years && ev.years.train;
    if (y) text += ` The training films were released from ${y.first} to ${y.last}.`;
    else text += " The run did not record the films' release years.";
    p.textContent = text;
  } else {
    p.textContent = "The revenue classes it learned:";
  }
  const counts = ev ? ev.train_class_counts : [];
  const table = $("class-table");
  table.classList.toggle("no-counts", counts.length !== CLASS_COUNT);
  const body = table.querySelector("tbody");
  body.replaceChildren(
    ...info.classes.map((c) => {
      const tr = el("tr");
      tr.dataset.class = c.name;
      tr.append(el("td", "class-name", c.name), el("td", "", revenueRange(c)));
      tr.append(el("td", "num", counts.length === CLASS_COUNT ? counts[c.index].toLocaleString() : ""));
      return tr;
    }),
  );
  const dollars = ev && ev.dollars !== "nominal" ? ev.dollars : "dollars of each film's own year";
  $("dollars-note").textContent = `Class edges in ${dollars}, set on the training films.`;
}

// Test metrics as a studio reads them: (key, name, how to show a value, scale of the bar).
const METRICS = [
  ["accuracy", "Exact class", (v) => pct(v, 0), [0, 1]],
  ["one_away_accuracy", "Within one class", (v) => pct(v, 0), [0, 1]],
  ["mae_class", "Average miss (classes)", (v) => v.toFixed(2), [0, CLASS_COUNT - 1]],
  ["qwk", "Order agreement (QWK)", (v) => v.toFixed(2), [0, 1]],
];

function renderAccuracy(info) {
  const box = $("accuracy");
  box.replaceChildren();
  const ev = info.evaluation;
  if (!ev) {
    box.append(el("p", "absent", info.evaluation_note || "No test results were found for this model."));
    $("accuracy-note").textContent = "";
    return;
  }
  for (const [key, name, show, [lo, hi]] of METRICS) {
    const m = ev.test[key];
    if (!m) continue;
    const row = el("div", "metric");
    row.dataset.metric = key;
    const at = (v) => `${(100 * (Math.min(Math.max(v, lo), hi) - lo)) / (hi - lo)}%`;
    const track = el("div", "track");
    const band = el("div", "band");
    band.style.left = at(m.low);
    band.style.width = `calc(${at(m.high)} - ${at(m.low)})`;
    const tick = el("div", "tick");
    tick.style.left = at(m.point);
    track.append(band, tick);
    row.append(el("span", "name", name), el("span", "value", show(m.point)), track);
    row.append(el("span", "range", `${show(m.low)} – ${show(m.high)}`));
    box.append(row);
  }
  const level = pct(ev.confidence, 0);
  $("accuracy-note").textContent =
    `On ${ev.films.test} test films the model never saw; ${level} bootstrap intervals. ` +
    `A random guess gets the exact class 1 time in ${CLASS_COUNT} (${pct(1 / CLASS_COUNT)}); ` +
    "QWK is 0 for chance and 1 when every film is placed right.";
}

function renderDetails(info) {
  const dl = $("details-list");
  dl.replaceChildren();
  const add = (term, value) => {
    if (value === "" || value === null || value === undefined) return;
    dl.append(el("dt", "", term), el("dd", "", String(value)));
  };
  for (const [mod, id] of Object.entries(info.encoder_ids)) add(`${INPUT_NAMES[mod] || mod} encoder`, id);
  add("Inputs (API names)", info.modalities.join(", "));
  add("Text length read", `${info.max_text_tokens} tokens`);
  add("Metadata fields (API names)", info.metadata_fields.join(", "));
  add("Feature groups", info.feature_groups.join(", "));
  const blend = Object.entries(info.components).map(([k, w]) => `${k} ${pct(w, 0)}`);
  add("Blend of components", blend.join(", "));
  add("Class chosen by", info.decision);
  add("Probability temperature", info.temperature.toFixed(3));
  if (info.evaluation) add("Split", info.evaluation.split);
  add("Trailer features", info.uses_trailers ? info.media_mode : "");
  if (info.arms.length > 1) add("Models served (A/B)", info.arms.map((a) => `${a.name} ${pct(a.traffic_share, 0)}`).join(", "));
  add("reelcast version", info.reelcast_version);
}

async function loadCapabilities() {
  try {
    const r = await fetch("/openapi.json");
    const api = r.ok ? await r.json() : {};
    const schema = ((api.components || {}).schemas || {}).PredictRequest || {};
    explainable = Boolean((schema.properties || {}).explain);
  } catch (e) {
    explainable = false;
  }
}

async function loadModelInfo() {
  try {
    let r = await fetch("/model", { headers: authHeaders() });
    if (r.status === 401 && askForKey()) r = await fetch("/model", { headers: authHeaders() });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    modelInfo = await r.json();
  } catch (e) {
    $("model-summary").textContent = `Could not read the model details (${e.message}).`;
    return;
  }
  const info = modelInfo;
  $("facts").hidden = !info.uses_metadata;
  for (const f of factFields) {
    f.hidden = !f.dataset.fields.split(" ").some((x) => info.metadata_fields.includes(x));
  }
  $("trailer-note").textContent = trailerNote(info);
  $("desc-limit").textContent = ` · the model reads the first ${info.max_text_tokens} word pieces`;
  renderModelSummary(info);
  renderReads(info);
  renderTraining(info);
  renderAccuracy(info);
  renderDetails(info);
  syncMissingNotice();
  syncTrailerInputs();
}

// ---- the prediction -----------------------------------------------------------------------------

function renderChart(probabilities, predicted) {
  const chart = $("prob-chart");
  chart.replaceChildren();
  const top = Math.max(...probabilities.map((p) => p.probability), 1e-9);
  for (const p of probabilities) {
    const row = el("div", `chart-row${p.index === predicted ? " top" : ""}`);
    row.setAttribute("role", "listitem");
    row.setAttribute("aria-label", `${p.name}: ${pct(p.probability)}`);
    row.append(el("span", "name", p.name));
    const track = el("div", "track");
    const bar = el("div", "bar");
    bar.dataset.class = p.name;
    bar.style.width = `${(100 * p.probability) / top}%`;
    track.append(bar);
    row.append(track, el("span", "pct", pct(p.probability)));
    chart.append(row);
  }
}

function renderContributions(result) {
  const box = $("contributions");
  box.replaceChildren();
  const values = Object.values(result.contributions).map(Math.abs);
  const scale = Math.max(...values, 0.01);
  for (const [mod, value] of Object.entries(result.contributions)) {
    const used = result.modalities_used[mod];
    const row = el("div", `contrib${used ? "" : " missing"}`);
    row.dataset.input = mod;
    const name = el("span", "mod", INPUT_NAMES[mod] || mod);
    if (!used) name.append(el("span", "badge", "not given"));
    const track = el("div", "track");
    const fill = el("div", `fill${value < 0 ? " negative" : ""}`);
    const half = (50 * Math.min(Math.abs(value), scale)) / scale;
    fill.style.left = value < 0 ? `${50 - half}%` : "50%";
    fill.style.width = `${half}%`;
    track.append(fill);
    const sign = value > 0 ? "+" : value < 0 ? "−" : "";
    row.append(name, track, el("span", "value", used ? `${sign}${(100 * Math.abs(value)).toFixed(1)} pts` : "—"));
    box.append(row);
  }
}

// The revenue range and the reasons, when the server gives them (nothing is shown otherwise).
function renderRevenue(result) {
  const box = $("revenue-box");
  const rev = result.revenue;
  box.hidden = !rev;
  if (!rev) return;
  $("revenue-median").textContent = `${money(rev.median_musd)} median`;
  const list = $("revenue-intervals");
  list.replaceChildren();
  const levels = Object.keys(rev.intervals).sort((a, b) => Number(a) - Number(b));
  const widest = rev.intervals[levels[levels.length - 1]] || [rev.median_musd, rev.median_musd];
  const lo = Math.min(widest[0], rev.median_musd);
  const hi = Math.max(widest[1], rev.median_musd);
  const at = (v) => `${(100 * (Math.log1p(v) - Math.log1p(lo))) / Math.max(Math.log1p(hi) - Math.log1p(lo), 1e-9)}%`;
  for (const level of levels) {
    const [a, b] = rev.intervals[level];
    const row = el("div", "interval");
    row.dataset.level = level;
    const track = el("div", "track");
    const band = el("div", "band");
    band.style.left = at(a);
    band.style.width = `calc(${at(b)} - ${at(a)})`;
    const tick = el("div", "tick");
    tick.style.left = at(rev.median_musd);
    track.append(band, tick);
    row.append(el("span", "name", `${level}% likely`), track, el("span", "range", `${money(a)} – ${money(b)}`));
    list.append(row);
  }
  const p = rev.p_at_least;
  $("revenue-threshold").textContent = p ? `${pct(p.p, 0)} chance of at least ${money(p.threshold_musd)}.` : "";
  $("revenue-threshold").hidden = !p;
  $("revenue-dollars").textContent = `In ${rev.dollars === "nominal" ? "dollars of the release year" : rev.dollars}.`;
}

// The model's own estimates of post-release figures (aux outputs), when the model has them; the box is
// built here, after the revenue box, so a page without it still shows them.
function renderEstimates(result) {
  let box = $("estimates-box");
  if (!box) {
    box = el("section", "part");
    box.id = "estimates-box";
    $("revenue-box").after(box);
  }
  const estimates = result.model_estimates || [];
  box.hidden = estimates.length === 0;
  box.replaceChildren(el("h3", "", "Model estimates"));
  for (const e of estimates) {
    const p = el("p", "estimate", e.text);
    p.dataset.target = e.target;
    box.append(p);
  }
  box.append(el("p", "hint", "Estimated by the model from the same inputs, not known figures."));
}

function renderReasons(result) {
  const box = $("reasons-box");
  const reasons = result.reasons || [];
  box.hidden = reasons.length === 0;
  const list = $("reasons");
  list.replaceChildren();
  const scale = Math.max(...reasons.map((r) => Math.abs(r.effect_classes)), 0.01);
  for (const r of reasons) {
    const row = el("div", "contrib reason");
    row.dataset.input = r.input;
    const track = el("div", "track");
    const fill = el("div", `fill${r.effect_classes < 0 ? " negative" : ""}`);
    const half = (50 * Math.abs(r.effect_classes)) / scale;
    fill.style.left = r.effect_classes < 0 ? `${50 - half}%` : "50%";
    fill.style.width = `${half}%`;
    track.append(fill);
    const sign = r.effect_classes > 0 ? "+" : r.effect_classes < 0 ? "−" : "";
    row.append(el("span", "mod", r.text), track, el("span", "value", `${sign}${Math.abs(r.effect_classes).toFixed(1)}`));
    list.append(row);
  }
}

function renderResult(result, notGiven) {
  $("result-title").textContent = result.title ? ` · ${result.title}` : "";
  $("predicted-class").textContent = result.class_name;
  // With several models behind the server (A/B arms), say which one answered.
  const arm = result.arm && result.arm !== "default" ? ` · model ${result.arm}` : "";
  $("confidence").textContent =
    `${pct(result.confidence)} probability · class ${result.predicted_class + 1} of ${CLASS_COUNT}${arm}`;
  const range = modelInfo && modelInfo.classes[result.predicted_class];
  $("revenue-range").textContent = range ? `Worldwide revenue ${revenueRange(range)}` : "";
  renderChart(result.probabilities, result.predicted_class);
  renderRevenue(result);
  renderEstimates(result);
  renderReasons(result);
  renderContributions(result);
  const cost = unknownCost(result);
  $("not-given").textContent = [
    notGiven.length
      ? `${listText(notGiven)}: the model reads ${notGiven.length === 1 ? "it" : "them"}, and ${notGiven.length === 1 ? "it was" : "they were"} left empty.`
      : "",
    cost,
  ].filter(Boolean).join(" ");
  $("not-given-box").hidden = !notGiven.length && !cost;
  // The unknown-inputs warning says what the box above already shows.
  const shown = result.warnings.filter((w) => !(cost && w.startsWith("unknown inputs:")));
  const list = $("warnings");
  list.replaceChildren(...shown.map((w) => el("li", "", w)));
  $("warnings-box").hidden = shown.length === 0;
  $("result").hidden = false;
  document.dispatchEvent(new CustomEvent("reelcast:prediction", { detail: result }));
}

// What the unknown inputs cost: the model's accuracy on validation films that lacked them.
function unknownCost(result) {
  const acc = result.expected_accuracy_without_them;
  if (!(result.unknown_inputs || []).length) return "";
  if (!acc) {
    // a basic input (budget, date, runtime, genres) was left out: validation never measured that
    return (
      `Unknown to the model: ${listText(result.unknown_inputs)}. It was never validated without ` +
      "basic inputs such as these, so expect it to do worse than its scores with every input."
    );
  }
  const which = acc.pattern === "exact" ? "" : " (that set was not measured: the basic-columns-only row)";
  return (
    `Unknown to the model: ${listText(result.unknown_inputs)}. On validation films without ` +
    `${result.unknown_inputs.length === 1 ? "it" : "them"} it was exactly right ${pct(acc.exact)} of the time, ` +
    `within one class ${pct(acc.one_away)}, QWK ${acc.qwk.toFixed(2)}${which}.`
  );
}

async function postJson(payload, retried = false) {
  let response;
  try {
    response = await fetch("/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify(payload),
    });
  } catch (e) {
    throw new Error(`Could not reach the server (${e.message}).`);
  }
  if (response.status === 401 && !retried && askForKey()) return postJson(payload, true);
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) throw new Error(errorText(response.status, body));
  return body;
}

// XMLHttpRequest rather than fetch: it reports upload progress, which matters for a 100 MB trailer.
function postUpload(fields, file) {
  return new Promise((resolve, reject) => {
    const data = new FormData();
    for (const [k, v] of Object.entries(fields)) data.append(k, v);
    data.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/predict/upload");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        const done = e.loaded >= e.total;
        statusEl.textContent = done ? "Reading the trailer…" : `Uploading ${pct(e.loaded / e.total, 0)}…`;
      }
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else if (xhr.status === 401 && askForKey()) reject(new Error("API key saved: press Predict again."));
      else reject(new Error(errorText(xhr.status, xhr.response)));
    };
    xhr.onerror = () => reject(new Error("The upload failed: the server closed the connection (is the file too large?)."));
    xhr.send(data);
  });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const text = description.value.trim();
  if (!text) {
    showError("Plot: give the film's plot, a few sentences at least.");
    description.focus();
    return;
  }
  const title = $("title").value.trim();
  const url = urlInput.value.trim();
  const file = fileInput.files[0];
  if (file && modelInfo && file.size > modelInfo.max_upload_mb * 2 ** 20) {
    showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; the limit is ${modelInfo.max_upload_mb} MB.`);
    return;
  }
  setBusy(true, file ? "Uploading…" : "Predicting…");
  try {
    const meta = metadataPayload();
    const notGiven = emptyFacts();
    const result = file
      ? await postUpload({ description: text, title, ...(meta ? { metadata: JSON.stringify(meta) } : {}) }, file)
      : await postJson({
          description: text,
          title,
          ...(url ? { trailer_url: url } : {}),
          ...(meta ? { metadata: meta } : {}),
          ...(explainable ? { explain: true } : {}),
        });
    renderResult(result, notGiven);
    statusEl.textContent = "";
  } catch (e) {
    showError(e.message);
  } finally {
    setBusy(false, "");
  }
});

description.addEventListener("input", () => {
  const words = description.value.trim().split(/\s+/).filter(Boolean).length;
  $("desc-count").textContent = `${words.toLocaleString()} word${words === 1 ? "" : "s"}`;
});
for (const f of factFields) {
  fieldInput(f).addEventListener("input", syncMissingNotice);
  fieldInput(f).addEventListener("change", syncMissingNotice);
}
urlInput.addEventListener("input", syncTrailerInputs);
fileInput.addEventListener("change", syncTrailerInputs);
clearFile.addEventListener("click", () => {
  fileInput.value = "";
  syncTrailerInputs();
});

loadCapabilities();
loadModelInfo();
