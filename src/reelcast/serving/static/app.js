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

let modelInfo = null;

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

async function loadModelInfo() {
  try {
    let r = await fetch("/model", { headers: authHeaders() });
    if (r.status === 401 && askForKey()) r = await fetch("/model", { headers: authHeaders() });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    modelInfo = await r.json();
  } catch (e) {
    $("model-info").textContent = `Could not read the model details (${e.message}).`;
    return;
  }
  const mods = modelInfo.modalities.join(" + ");
  const text = modelInfo.encoder_ids.text ? ` · text encoder ${modelInfo.encoder_ids.text}` : "";
  $("model-info").textContent = `Model inputs: ${mods}${text} · reads the first ${modelInfo.max_text_tokens} tokens`;
  $("metadata").hidden = !modelInfo.uses_metadata;
  if (!modelInfo.uses_trailers) {
    const note = $("trailer-note");
    note.textContent = "This model reads only the plot description; a trailer would be ignored.";
    note.hidden = false;
  }
  syncTrailerInputs();
}

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
    const name = el("span", "mod", mod);
    if (!used) name.append(el("span", "badge", "missing"));
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

function renderResult(result) {
  $("predicted-class").textContent = result.class_name;
  // With several models behind the server (A/B arms), say which one answered.
  const arm = result.arm && result.arm !== "default" ? ` · model ${result.arm}` : "";
  $("confidence").textContent =
    `${pct(result.confidence)} probability · class ${result.predicted_class + 1} of 8${arm}`;
  const range = modelInfo && modelInfo.classes[result.predicted_class];
  $("revenue-range").textContent = range
    ? range.max_musd === null
      ? `Revenue of ${money(range.min_musd)} or more`
      : `Revenue between ${money(range.min_musd)} and ${money(range.max_musd)}`
    : "";
  renderChart(result.probabilities, result.predicted_class);
  renderContributions(result);
  const list = $("warnings");
  list.replaceChildren(...result.warnings.map((w) => el("li", "", w)));
  $("warnings-box").hidden = result.warnings.length === 0;
  $("result").hidden = false;
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

// The metadata fields that are filled in, in the API's names (lists split on commas).
function metadataPayload() {
  if ($("metadata").hidden) return null;
  const list = (id) => $(id).value.split(",").map((x) => x.trim()).filter(Boolean);
  const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
  const meta = {
    budget_musd: num("meta-budget"),
    release_date: $("meta-date").value || null,
    runtime: num("meta-runtime"),
    language: $("meta-language").value.trim() || null,
    genres: list("meta-genres"),
    director: $("meta-director").value.trim() || null,
    cast: list("meta-cast"),
    companies: list("meta-companies"),
    keywords: list("meta-keywords"),
  };
  for (const [k, v] of Object.entries(meta)) {
    if (v === null || (Array.isArray(v) && v.length === 0)) delete meta[k];
  }
  return Object.keys(meta).length ? meta : null;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const text = description.value.trim();
  if (!text) {
    showError("description: give the film's plot description.");
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
    const result = file
      ? await postUpload({ description: text, title, ...(meta ? { metadata: JSON.stringify(meta) } : {}) }, file)
      : await postJson({ description: text, title, ...(url ? { trailer_url: url } : {}), ...(meta ? { metadata: meta } : {}) });
    renderResult(result);
    statusEl.textContent = "";
  } catch (e) {
    showError(e.message);
  } finally {
    setBusy(false, "");
  }
});

description.addEventListener("input", () => {
  const n = description.value.length;
  $("desc-count").textContent = `${n.toLocaleString()} character${n === 1 ? "" : "s"}`;
});
urlInput.addEventListener("input", syncTrailerInputs);
fileInput.addEventListener("change", syncTrailerInputs);
clearFile.addEventListener("click", () => {
  fileInput.value = "";
  syncTrailerInputs();
});

loadModelInfo();
