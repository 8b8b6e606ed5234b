// imgclass serve: the page. Plain JavaScript, no build step, nothing fetched from elsewhere.
// Every request goes through api(); every change carries the page's token.
"use strict";

const TOKEN = document.querySelector('meta[name="imgclass-token"]').content;
const $ = (sel) => document.querySelector(sel);
const state = { project: null, health: null, events: null, job: null, bulk: [], sort: { key: "file", up: true } };

// ---- helpers -------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

let toastTimer = null;
function toast(text, error = false) {
  const t = $("#toast");
  t.textContent = text;
  t.className = "show" + (error ? " error" : "");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.className = ""), error ? 6000 : 2500);
}

async function api(method, url, body) {
  const init = { method, headers: { "x-imgclass-token": TOKEN } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let data;
  try { data = JSON.parse(text); } catch { data = { error: text }; }
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

const enc = encodeURIComponent;
const projectUrl = (p) => `/api/projects/${enc(p)}`;
const pct = (x) => (100 * x).toFixed(1) + "%";

function guard(f) {
  return async (...args) => {
    try { await f(...args); } catch (e) { toast(e.message, true); }
  };
}

// ---- files from inputs and drops (folders read recursively) ---------------------------------

async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files].map((f) => ({ file: f, path: f.name }));
  const out = [];
  async function walk(entry) {
    if (entry.isFile) {
      const file = await new Promise((ok, fail) => entry.file(ok, fail));
      out.push({ file, path: entry.fullPath.replace(/^\//, "") });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
        if (!batch.length) break;
        for (const e of batch) await walk(e);
      }
    }
  }
  for (const e of entries) await walk(e);
  return out;
}

function inputFiles(input) {
  return [...input.files].map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
}

// Sends files in requests that stay under the server's body limit; returns the merged report.
async function sendInChunks(url, files, onProgress) {
  const limit = Math.floor((state.health?.limits?.body_bytes || 20 << 20) * 0.9);
  const report = { added: [], unchanged: [], rejected: [] };
  let i = 0;
  while (i < files.length) {
    const form = new FormData();
    let size = 0, n = 0;
    while (i < files.length && n < 200 && (n === 0 || size + files[i].file.size < limit)) {
      form.append("files", files[i].file, files[i].path);
      size += files[i].file.size;
      i++; n++;
    }
    try {
      const r = await api("POST", url, form);
      report.added.push(...r.added); report.unchanged.push(...r.unchanged); report.rejected.push(...r.rejected);
    } catch (e) {
      report.rejected.push({ file: `${n} files`, reason: e.message });
    }
    onProgress(i, files.length);
  }
  return report;
}

// ---- projects ------------------------------------------------------------------------------

async function loadProjects(select) {
  const list = await api("GET", "/api/projects");
  const sel = $("#project");
  sel.replaceChildren(...list.map((p) => el("option", { value: p.name, text: `${p.name} (${p.classes} classes, ${p.images} images)` })));
  if (!list.length) sel.append(el("option", { value: "", text: "no project yet: create one" }));
  const want = select || localStorage.getItem("imgclass-project");
  if (want && list.some((p) => p.name === want)) sel.value = want;
  state.project = sel.value || null;
  if (state.project) localStorage.setItem("imgclass-project", state.project);
  await showProject();
}

async function showProject() {
  closeEvents();
  resetTraining();
  if (!state.project) {
    $("#classes").replaceChildren(el("div", { class: "empty", text: "Create a project to start: give it a name above." }));
    return;
  }
  await Promise.all([renderClasses(), followJob(), refreshTestModels(), renderRuns(), renderExports(), renderSuspects()]);
}

// ---- teach: classes and uploads ------------------------------------------------------------

async function renderClasses() {
  const view = await api("GET", projectUrl(state.project));
  const cards = view.classes.map(classCard);
  if (!cards.length) cards.push(el("div", { class: "empty", text: "No class yet: add one (say, “cat” and “dog”), or import a folder of class folders." }));
  $("#classes").replaceChildren(...cards);
}

function classCard(c) {
  const base = `${projectUrl(state.project)}/classes/${enc(c.name)}/images`;
  const thumbs = el("div", { class: "thumbs" }, ...c.samples.map((s) => el("img", { src: `${base}/${enc(s)}`, alt: s, loading: "lazy" })));
  const files = el("input", { type: "file", accept: "image/*,.zip", multiple: "", hidden: "" });
  const folder = el("input", { type: "file", webkitdirectory: "", multiple: "", hidden: "" });
  const upload = (list) => uploadTo(base, list, c.name);
  files.addEventListener("change", () => upload(inputFiles(files)));
  folder.addEventListener("change", () => upload(inputFiles(folder)));
  const card = el("div", { class: "card" },
    el("header", {}, el("h3", { text: c.name }), el("span", { class: "count", text: `${c.count} images` })),
    thumbs,
    el("div", { class: "buttons" },
      el("label", { class: "button" }, "Images…", files),
      el("label", { class: "button" }, "Folder…", folder),
      el("button", { text: "Webcam", onclick: () => webcamShots(base, c.name, card) })));
  dropTarget(card, async (dt) => upload(await droppedFiles(dt)));
  return card;
}

async function uploadTo(url, files, what) {
  if (!files.length) return;
  const status = $("#upload-status");
  const report = await sendInChunks(url, files, (done, total) => (status.textContent = `Uploading to ${what}: ${done} of ${total} files…`));
  const bits = [`${report.added.length} added`];
  if (report.unchanged.length) bits.push(`${report.unchanged.length} already there`);
  if (report.rejected.length) bits.push(`${report.rejected.length} not images (${report.rejected.slice(0, 3).map((r) => r.reason).join("; ")})`);
  status.textContent = `${what}: ${bits.join(", ")}.`;
  await renderClasses();
  await loadProjectsKeep();
}

async function loadProjectsKeep() {
  const list = await api("GET", "/api/projects");
  const sel = $("#project");
  for (const opt of sel.options) {
    const p = list.find((x) => x.name === opt.value);
    if (p) opt.textContent = `${p.name} (${p.classes} classes, ${p.images} images)`;
  }
}

function dropTarget(node, onDrop) {
  node.addEventListener("dragover", (e) => { e.preventDefault(); e.stopPropagation(); node.classList.add("over"); });
  node.addEventListener("dragleave", () => node.classList.remove("over"));
  node.addEventListener("drop", guard(async (e) => {
    e.preventDefault(); e.stopPropagation();
    node.classList.remove("over");
    await onDrop(e.dataTransfer);
  }));
}

// A webcam inside a class card: a shot per click, or one every 200 ms while the button is held.
async function webcamShots(url, name, card) {
  if (card.querySelector("video")) return;
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } }).catch((e) => { toast("No webcam: " + e.message, true); });
  if (!stream) return;
  const video = el("video", { autoplay: "", playsinline: "", muted: "" });
  video.srcObject = stream;
  let timer = null, shots = 0;
  const hold = el("button", { text: "Hold to record" });
  const shoot = async () => {
    const blob = await frame(video);
    shots++;
    await sendInChunks(url, [{ file: blob, path: `webcam-${Date.now()}.jpg` }], () => {});
    hold.textContent = `Hold to record (${shots})`;
  };
  hold.addEventListener("pointerdown", () => { shoot(); timer = setInterval(shoot, 200); });
  for (const ev of ["pointerup", "pointerleave"]) hold.addEventListener(ev, () => { clearInterval(timer); timer = null; });
  const done = el("button", { text: "Done", onclick: async () => { stream.getTracks().forEach((t) => t.stop()); box.remove(); await renderClasses(); } });
  const box = el("div", { class: "webcam" }, video, el("div", { class: "buttons" }, hold, done));
  card.append(box);
}

function frame(video) {
  const c = document.createElement("canvas");
  c.width = video.videoWidth || 640; c.height = video.videoHeight || 480;
  c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
  return new Promise((ok) => c.toBlob(ok, "image/jpeg", 0.9));
}

// ---- teach: training ------------------------------------------------------------------------

function trainOptions() {
  const o = {};
  const num = (id) => $(id).value.trim() === "" ? undefined : Number($(id).value);
  if ($("#arch").value) o.arch = $("#arch").value;
  if ($("#aug").value) o.aug = $("#aug").value;
  if (num("#epochs") !== undefined) o.epochs = num("#epochs");
  if (num("#batch-size") !== undefined) o.batch_size = num("#batch-size");
  if (num("#lr") !== undefined) o.lr = num("#lr");
  if ($("#run-name").value.trim()) o.run = $("#run-name").value.trim();
  return o;
}

function resetTraining() {
  state.job = { epochs: [], batches: [], epoch: 0, of: 0, steps: 1, run: null, metric: null };
  $("#epochs-table tbody").replaceChildren();
  $("#train-progress").value = 0;
  $("#train-status").textContent = "Not trained yet.";
  setButtons(false, null);
  drawLoss();
}

function setButtons(running, stoppedRun) {
  $("#train").disabled = running || !state.project;
  $("#stop").disabled = !running;
  $("#resume").disabled = running || !stoppedRun;
  $("#resume").dataset.run = stoppedRun || "";
}

function closeEvents() {
  if (state.events) state.events.close();
  state.events = null;
}

async function followJob() {
  let view;
  try { view = await api("GET", `${projectUrl(state.project)}/job`); } catch { return; }
  state.jobKind = view.kind;
  resetTraining();
  for (const e of view.events) dispatch(e);
  if (!["done", "stopped", "failed"].includes(view.state)) listen();
}

function listen() {
  closeEvents();
  const es = new EventSource(`${projectUrl(state.project)}/job/events`);
  state.events = es;
  for (const type of ["state", "loading", "epoch_start", "batch", "epoch", "message", "end"]) {
    es.addEventListener(type, (m) => {
      const e = JSON.parse(m.data);
      dispatch(e);
      if (e.type === "end") closeEvents();
    });
  }
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) closeEvents(); };
}

// A job's events go to the panel of its kind.
function dispatch(e) {
  if (state.jobKind === "clean") onCleanEvent(e);
  else onEvent(e);
}

function onEvent(e) {
  const j = state.job;
  const status = $("#train-status");
  if (e.seq <= (j.seq || 0)) return;
  j.seq = e.seq;
  switch (e.type) {
    case "state":
      status.textContent = e.message;
      setButtons(true, null);
      break;
    case "loading":
      $("#train-progress").value = e.total ? e.done / e.total : 0;
      status.textContent = `Reading images: ${e.done} of ${e.total}`;
      break;
    case "epoch_start":
      Object.assign(j, { epoch: e.epoch, of: e.epochs, steps: Math.max(1, e.batches) });
      status.textContent = `Epoch ${e.epoch} of ${e.epochs}`;
      break;
    case "batch":
      j.batches.push([j.epoch - 1 + e.step / j.steps, e.loss]);
      $("#train-progress").value = (j.epoch - 1 + e.step / j.steps) / Math.max(1, j.of);
      status.textContent = `Epoch ${j.epoch} of ${j.of}: step ${e.step} of ${j.steps}, loss ${e.loss.toFixed(4)}`;
      drawLoss();
      break;
    case "epoch":
      j.epochs.push(e.metrics);
      addEpochRow(e.metrics, e.improved);
      drawLoss();
      break;
    case "message":
      if (e.text) status.textContent = e.text;
      break;
    case "end": {
      status.textContent = `${e.result?.run ? e.result.run + ": " : ""}${e.message}`;
      $("#train-progress").value = e.state === "done" ? 1 : $("#train-progress").value;
      const stopped = e.state === "stopped" && e.result && e.result.epochs > 0 ? e.result.run : null;
      setButtons(false, stopped);
      if (e.seq > 1) { refreshTestModels(); renderRuns(); renderExports(); }
      break;
    }
  }
}

function mainMetric(m) {
  const names = (m.metrics || []).map(([k]) => k);
  for (const k of ["accuracy", "f1_micro", "r2", "mae"]) if (names.includes(k)) return k;
  return names[0] || "accuracy";
}

function addEpochRow(m, improved) {
  const key = state.job.metric || (state.job.metric = mainMetric(m));
  const value = (m.metrics || []).find(([k]) => k === key);
  $("#epochs-table thead th:nth-child(4)").textContent = key;
  const shown = value ? (key === "accuracy" ? pct(value[1]) : value[1].toFixed(4)) : "";
  const row = el("tr", improved ? { class: "best" } : {},
    el("td", { text: m.epoch + (m.partial ? " (part)" : "") }), el("td", { text: m.train_loss.toFixed(4) }),
    el("td", { text: m.valid_loss.toFixed(4) }), el("td", { text: shown }), el("td", { text: m.seconds.toFixed(1) + " s" }));
  $("#epochs-table tbody").append(row);
}

// The loss curve: each reported step's training loss, and the validation loss at each epoch's end.
function drawLoss(canvas = $("#loss-chart"), job = state.job) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 48, R = 12, T = 12, B = 40;
  ctx.clearRect(0, 0, W, H);
  const train = job.batches.length ? job.batches : job.epochs.map((m) => [m.epoch, m.train_loss]);
  const valid = job.epochs.map((m) => [m.epoch, m.valid_loss]);
  const ys = [...train, ...valid].map((p) => p[1]).filter(Number.isFinite);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#5f6b7a";
  if (!ys.length) { ctx.fillText("The loss curve appears here while a model trains.", L, H / 2); return; }
  const xmax = Math.max(1, job.of || 0, ...train.map((p) => p[0]), ...valid.map((p) => p[0]));
  const ymax = Math.max(...ys) * 1.05, ymin = Math.min(0, Math.min(...ys));
  const x = (v) => L + (v / xmax) * (W - L - R);
  const y = (v) => T + (1 - (v - ymin) / (ymax - ymin || 1)) * (H - T - B);
  ctx.strokeStyle = "#d9dee5"; ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = ymin + (i / 4) * (ymax - ymin);
    ctx.beginPath(); ctx.moveTo(L, y(v)); ctx.lineTo(W - R, y(v)); ctx.stroke();
    ctx.fillText(v.toFixed(2), 4, y(v) + 4);
  }
  const step = Math.max(1, Math.ceil(xmax / 10));
  for (let e = 0; e <= xmax; e += step) ctx.fillText(String(e), x(e) - 3, H - 22);
  ctx.fillText("epoch", (L + W - R) / 2 - 16, H - 5);
  const line = (pts, color, dots) => {
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 2; ctx.beginPath();
    pts.forEach(([a, b], i) => (i ? ctx.lineTo(x(a), y(b)) : ctx.moveTo(x(a), y(b))));
    ctx.stroke();
    if (dots) for (const [a, b] of pts) { ctx.beginPath(); ctx.arc(x(a), y(b), 3.5, 0, 7); ctx.fill(); }
  };
  line(train, "#1f6feb", train.length < 2 || !job.batches.length);
  line(valid, "#e8710a", true);
  ctx.fillStyle = "#1f6feb"; ctx.fillText("train loss", L + 8, T + 12);
  ctx.fillStyle = "#e8710a"; ctx.fillText("valid loss", L + 80, T + 12);
}

// ---- test ----------------------------------------------------------------------------------

async function refreshTestModels() {
  const sel = $("#test-model");
  const keep = sel.value;
  const options = [];
  if (state.project) {
    const runs = await api("GET", `${projectUrl(state.project)}/runs`).catch(() => []);
    const trained = runs.filter((r) => r.has_model).reverse();
    for (const r of trained) options.push(el("option", { value: `${state.project}|${r.name}`, text: `${state.project} / ${r.name} (${r.arch || "?"})` }));
  }
  if (state.health?.model) options.push(el("option", { value: "", text: `the server's model (${state.health.model.labels.length} labels)` }));
  if (!options.length) options.push(el("option", { value: "-", text: "no model yet: train one" }));
  sel.replaceChildren(...options);
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

function predictUrl(batch) {
  const [project, run] = $("#test-model").value.split("|");
  const q = new URLSearchParams({ k: $("#test-k").value || "3" });
  if (project && project !== "-") q.set("project", project);
  if (run) q.set("run", run);
  return `/api/predict${batch ? "/batch" : ""}?${q}`;
}

async function predictOne(file, name) {
  const form = new FormData();
  form.append("file", file, name);
  const answer = await api("POST", predictUrl(false), form);
  state.last = { file, name, cam: null };
  $("#cam-toggle").textContent = "Show Grad-CAM";
  $("#cam-note").textContent = "";
  $("#bulk").hidden = true;
  $("#single").hidden = false;
  const img = $("#single-image");
  if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
  img.dataset.url = URL.createObjectURL(file);
  img.src = img.dataset.url;
  $("#single-title").textContent = name;
  $("#bars").replaceChildren(...answerRows(answer));
}

// Grad-CAM of the last image: where the model looked for the class it predicts.
async function toggleCam() {
  const last = state.last;
  if (!last) return;
  const img = $("#single-image");
  if (img.src.startsWith("data:")) {
    img.src = img.dataset.url;
    $("#cam-toggle").textContent = "Show Grad-CAM";
    return;
  }
  if (!last.cam) {
    const form = new FormData();
    form.append("file", last.file, last.name);
    last.cam = await api("POST", predictUrl(false).replace("/api/predict", "/api/cam"), form);
  }
  if (!last.cam.overlay) throw new Error("no overlay for this model");
  img.src = last.cam.overlay;
  $("#cam-toggle").textContent = "Show the image";
  $("#cam-note").textContent = `Grad-CAM of ${last.cam.cam.class} at ${last.cam.cam.layer}`;
}

// The answer as bars (classes, labels) or as a number (regression, counts).
function answerRows(a) {
  const bars = (list) => list.map((p) => el("div", { class: "bar" },
    el("span", { text: p.label }),
    el("div", { class: "track" }, (() => { const f = el("div", { class: "fill" }); f.style.width = pct(p.probability); return f; })()),
    el("span", { class: "value", text: pct(p.probability) })));
  if (a.top) return bars(a.top);
  if (a.labels) return a.labels.length ? bars(a.labels) : [el("p", { text: "No label reaches its threshold." })];
  if (a.values) return Object.entries(a.values).map(([k, v]) => el("p", { text: `${k}: ${v.toFixed(3)}` }));
  if (a.rate !== undefined) return [el("p", { text: `count ${a.value} (expected ${a.rate.toFixed(2)})` })];
  return [el("p", { text: `value ${a.value.toFixed(3)}` })];
}

async function predictMany(files) {
  if (files.length === 1 && !files[0].path.toLowerCase().endsWith(".zip")) return predictOne(files[0].file, files[0].path);
  const limit = state.health?.limits?.predict_images || 256;
  state.bulk = [];
  $("#single").hidden = true;
  $("#bulk").hidden = false;
  const skipped = [];
  for (let i = 0; i < files.length; i += Math.min(limit, 64)) {
    const form = new FormData();
    for (const f of files.slice(i, i + Math.min(limit, 64))) form.append("files", f.file, f.path);
    const out = await api("POST", predictUrl(true), form);
    for (const p of out.predictions) state.bulk.push(row(p));
    skipped.push(...out.skipped);
    $("#bulk-status").textContent = `${state.bulk.length} of ${files.length} predicted…`;
    renderBulk();
  }
  $("#bulk-status").textContent = `${state.bulk.length} images predicted` + (skipped.length ? `, ${skipped.length} could not be read` : "") + ".";
}

function row(p) {
  const list = p.top || p.labels || [];
  if (list.length || p.top || p.labels) {
    return { file: p.file, label: list.map((x) => x.label).slice(0, p.labels ? 99 : 1).join(" ") || "(none)",
      probability: list[0]?.probability ?? 0, second: list[1] ? `${list[1].label} ${pct(list[1].probability)}` : "" };
  }
  const v = p.values ? Object.entries(p.values).map(([k, x]) => `${k}=${x.toFixed(3)}`).join(" ") : String(p.value);
  return { file: p.file, label: v, probability: p.rate ?? p.value ?? 0, second: "" };
}

function renderBulk() {
  const { key, up } = state.sort;
  const rows = [...state.bulk].sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0) * (up ? 1 : -1));
  $("#bulk-table tbody").replaceChildren(...rows.map((r) => el("tr", {},
    el("td", { text: r.file }), el("td", { text: r.label }),
    el("td", { text: typeof r.probability === "number" && r.probability <= 1 ? pct(r.probability) : String(r.probability) }),
    el("td", { text: r.second }))));
}

function downloadCsv() {
  const quote = (s) => `"${String(s).replaceAll('"', '""')}"`;
  const lines = ["file,prediction,probability,next", ...state.bulk.map((r) => [r.file, r.label, r.probability, r.second].map(quote).join(","))];
  const a = el("a", { href: URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" })), download: "predictions.csv" });
  document.body.append(a); a.click(); a.remove();
}

let camera = null;
async function toggleWebcam() {
  if (camera) {
    camera.getTracks().forEach((t) => t.stop());
    camera = null; $("#live").checked = false; $("#webcam").hidden = true;
    return;
  }
  camera = await navigator.mediaDevices.getUserMedia({ video: true });
  $("#video").srcObject = camera;
  $("#webcam").hidden = false;
}

async function liveLoop() {
  while ($("#live").checked && camera) {
    const blob = await frame($("#video"));
    await predictOne(blob, "webcam frame").catch((e) => { $("#live").checked = false; toast(e.message, true); });
    await new Promise((ok) => setTimeout(ok, 300));
  }
}

// ---- runs ----------------------------------------------------------------------------------

async function renderRuns() {
  const tbody = $("#runs-table tbody");
  if (!state.project) return tbody.replaceChildren();
  const runs = await api("GET", `${projectUrl(state.project)}/runs`).catch(() => []);
  tbody.replaceChildren(...runs.map((r) => {
    const box = el("input", { type: "checkbox", value: r.name });
    box.addEventListener("change", guard(showRunDetails));
    const valid = r.valid ? (r.valid.accuracy !== undefined ? `accuracy ${pct(r.valid.accuracy)}` : `loss ${r.valid.loss.toFixed(4)}`) : "";
    return el("tr", {}, el("td", {}, box), el("td", { text: r.name }), el("td", { text: r.arch || "" }),
      el("td", { text: String(r.epochs) }), el("td", { text: valid }),
      el("td", { text: r.training ? "training" : (r.ending || "—") }));
  }));
  if (!runs.length) tbody.append(el("tr", {}, el("td", { colspan: "6", text: "No run yet: train on the Teach tab." })));
}

async function showRunDetails() {
  const ticked = [...document.querySelectorAll("#runs-table input:checked")].map((b) => b.value);
  if (ticked.length > 2) { document.querySelector(`#runs-table input[value="${CSS.escape(ticked[0])}"]`).checked = false; ticked.shift(); }
  const details = await Promise.all(ticked.map((r) => api("GET", `${projectUrl(state.project)}/runs/${enc(r)}`).then((d) => [r, d])));
  $("#run-details").replaceChildren(...details.map(([name, d]) => runCard(name, d)));
}

function runCard(name, d) {
  const canvas = el("canvas", { width: "480", height: "220" });
  drawLoss(canvas, { batches: [], epochs: d.history, of: d.history.length });
  const card = el("div", { class: "run" }, el("h3", { text: `${name} — ${d.summary?.arch || ""}` }), canvas);
  const f = d.report?.final_metrics;
  if (f) {
    const shown = ([k, v]) => Number.isInteger(v) ? `${k.replace("n_images", "images")} ${v}` : `${k} ${v <= 1 && k !== "loss" ? pct(v) : v.toFixed(4)}`;
    const metrics = Object.entries(f).filter(([, v]) => typeof v === "number").map(shown);
    card.append(el("p", { text: metrics.join(" · ") }));
    if (f.per_class) card.append(perClass(f.per_class));
    if (f.confusion) card.append(confusion(f.confusion), confusedPairs(f.confusion));
    const pictures = `${projectUrl(state.project)}/runs/${enc(name)}/files`;
    card.append(el("h3", { text: "Top losses" }), el("img", { src: `${pictures}/top_losses.png`, alt: "top losses", class: "picture" }));
  } else {
    card.append(el("p", { class: "hint", text: "No report yet: the run is training, or stopped before it ended." }));
  }
  return card;
}

function perClass(rows) {
  return el("table", { class: "numbers" },
    el("thead", {}, el("tr", {}, ...["class", "precision", "recall", "f1", "images"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, el("td", { text: r.class }), el("td", { text: pct(r.precision) }),
      el("td", { text: pct(r.recall) }), el("td", { text: pct(r.f1) }), el("td", { text: String(r.support) })))));
}

function confusion(c) {
  const max = Math.max(1, ...c.counts.flat());
  const head = el("tr", {}, el("th", { text: "actual \\ predicted" }), ...c.classes.map((k) => el("th", { text: k })));
  const rows = c.counts.map((row, i) => el("tr", {}, el("th", { text: c.classes[i] }), ...row.map((n, j) => {
    const td = el("td", { text: String(n) });
    const a = n / max;
    td.style.background = i === j ? `rgba(26,127,55,${0.15 + 0.6 * a})` : n ? `rgba(207,34,46,${0.1 + 0.7 * a})` : "";
    return td;
  })));
  return el("table", { class: "confusion" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function confusedPairs(c) {
  const pairs = [];
  c.counts.forEach((row, i) => row.forEach((n, j) => { if (i !== j && n) pairs.push([n, c.classes[i], c.classes[j]]); }));
  pairs.sort((a, b) => b[0] - a[0]);
  return el("p", { text: "Most confused: " + (pairs.slice(0, 5).map(([n, a, p]) => `${a} → ${p} (${n})`).join(", ") || "none") });
}

// ---- clean ---------------------------------------------------------------------------------

function onCleanEvent(e) {
  const status = $("#clean-status");
  if (e.type === "state" || e.type === "message") status.textContent = e.message || e.text || status.textContent;
  if (e.type === "loading") status.textContent = `Reading images: ${e.done} of ${e.total}`;
  if (e.type === "epoch") status.textContent += ` · epoch ${e.metrics.epoch}`;
  if (e.type === "end") {
    status.textContent = e.state === "done" ? `Found ${e.message}.` : e.message;
    $("#clean-start").disabled = false;
    renderSuspects();
  }
}

async function renderSuspects() {
  const box = $("#suspects");
  state.suspects = [];
  $("#clean-apply").disabled = true;
  if (!state.project) return box.replaceChildren();
  let rows;
  try { rows = await api("GET", `${projectUrl(state.project)}/clean`); } catch { return box.replaceChildren(); }
  const view = await api("GET", projectUrl(state.project));
  const classes = view.classes.map((c) => c.name);
  const url = (file) => {
    const [cls, ...rest] = file.split("/");
    return `${projectUrl(state.project)}/classes/${enc(cls)}/images/${enc(rest.join("/"))}`;
  };
  state.suspects = rows;
  box.replaceChildren(...rows.map((r) => {
    const others = classes.filter((c) => c !== r.label).sort((a, b) => (b === r.suggested) - (a === r.suggested));
    const select = el("select", {},
      el("option", { value: "keep", text: "keep" }),
      ...others.map((c) => el("option", { value: `relabel:${c}`, text: `relabel as ${c}` })),
      el("option", { value: "delete", text: "delete (to the trash)" }));
    select.value = [...select.options].some((o) => o.value === r.action) ? r.action : "keep";
    const card = el("div", { class: "suspect" });
    select.addEventListener("change", () => {
      r.decision = select.value;
      card.classList.toggle("changed", select.value !== "keep");
      $("#clean-apply").disabled = !state.suspects.some((x) => x.decision && x.decision !== "keep");
    });
    const pics = el("div", { class: "pics" }, el("img", { src: url(r.file), alt: r.file, loading: "lazy" }));
    if (r.other) pics.append(el("img", { src: url(r.other), alt: r.other, loading: "lazy" }));
    const what = r.issue === "label_error" ? `given ${r.label}, looks like ${r.suggested}`
      : r.issue === "duplicate" ? `repeats ${r.other}` : `far from every other image (${r.label})`;
    card.append(pics, el("div", {}, el("span", { class: `badge ${r.issue}`, text: r.issue.replace("_", " ") }), ` ${r.score.toFixed(3)}`),
      el("div", { text: what }), el("div", { class: "hint", text: r.file }), select);
    return card;
  }));
  if (!rows.length) box.replaceChildren(el("p", { class: "hint", text: "No suspect: the labels agree with the predictions." }));
}

// ---- export --------------------------------------------------------------------------------

async function renderExports() {
  const box = $("#exports");
  if (!state.project) return box.replaceChildren();
  const runs = (await api("GET", `${projectUrl(state.project)}/runs`).catch(() => [])).filter((r) => r.has_model).reverse();
  if (!runs.length) return box.replaceChildren(el("p", { class: "hint", text: "Train a model first." }));
  box.replaceChildren(...runs.map((r) => {
    const base = `${projectUrl(state.project)}/runs/${enc(r.name)}`;
    const file = `${state.project}-${r.name}.imgclass`;
    const snippet = [
      `# Predict with the bundle (the same binary):`,
      `imgclass predict ${file} photos/ --csv > predictions.csv`,
      ``,
      `# Or ask this server from a script:`,
      `curl -F file=@photo.jpg '${location.origin}/api/predict?project=${enc(state.project)}&run=${enc(r.name)}'`,
      ``,
      `# ONNX: onnxruntime in Python, C#, Java, JavaScript; deploy/onnx_predict.py in imgclass's repository`,
      `python3 onnx_predict.py ${state.project}-${r.name}.onnx photos/`,
    ].join("\n");
    return el("div", { class: "export" },
      el("h3", { text: `${r.name} — ${r.arch || ""}` }),
      el("p", {}, el("a", { href: `${base}/model.imgclass`, class: "button", text: "Download the .imgclass bundle" }), " ",
        el("a", { href: `${base}/model.onnx`, class: "button", text: "Download as ONNX" })),
      el("pre", { text: snippet }));
  }));
}

// ---- wiring --------------------------------------------------------------------------------

function showTab(name) {
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== name;
  location.hash = name;
}

window.addEventListener("DOMContentLoaded", guard(async () => {
  state.health = await api("GET", "/api/health");
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  if (["test", "runs", "clean", "export"].includes(location.hash.slice(1))) showTab(location.hash.slice(1));
  $("#project").addEventListener("change", guard(async () => {
    state.project = $("#project").value;
    localStorage.setItem("imgclass-project", state.project);
    await showProject();
  }));
  $("#new-project").addEventListener("submit", guard(async (e) => {
    e.preventDefault();
    const name = $("#new-project-name").value.trim();
    await api("POST", "/api/projects", { name });
    $("#new-project-name").value = "";
    await loadProjects(name);
    toast(`Project ${name} created`);
  }));
  $("#new-class").addEventListener("submit", guard(async (e) => {
    e.preventDefault();
    if (!state.project) throw new Error("create a project first");
    await api("POST", `${projectUrl(state.project)}/classes`, { name: $("#new-class-name").value.trim() });
    $("#new-class-name").value = "";
    await renderClasses();
  }));
  const importUrl = () => `${projectUrl(state.project)}/import`;
  $("#import-folder").addEventListener("change", guard(() => uploadTo(importUrl(), inputFiles($("#import-folder")), "import")));
  $("#import-zip").addEventListener("change", guard(() => uploadTo(importUrl(), inputFiles($("#import-zip")), "import")));
  dropTarget($("#classes"), async (dt) => uploadTo(importUrl(), await droppedFiles(dt), "import"));
  $("#train").addEventListener("click", guard(async () => {
    resetTraining();
    const view = await api("POST", `${projectUrl(state.project)}/train`, trainOptions());
    state.jobKind = "train";
    setButtons(true, null);
    $("#train-status").textContent = `Training ${view.run}…`;
    listen();
    renderRuns();
  }));
  $("#stop").addEventListener("click", guard(async () => {
    await api("POST", `${projectUrl(state.project)}/job/stop`, {});
    $("#train-status").textContent = "Stopping after this step…";
  }));
  $("#resume").addEventListener("click", guard(async () => {
    const run = $("#resume").dataset.run;
    resetTraining();
    await api("POST", `${projectUrl(state.project)}/runs/${enc(run)}/resume`, {});
    state.jobKind = "train";
    setButtons(true, null);
    listen();
  }));
  $("#test-files").addEventListener("change", guard(() => predictMany(inputFiles($("#test-files")))));
  $("#test-folder").addEventListener("change", guard(() => predictMany(inputFiles($("#test-folder")))));
  dropTarget($("#test-drop"), async (dt) => predictMany(await droppedFiles(dt)));
  $("#webcam-toggle").addEventListener("click", guard(toggleWebcam));
  $("#snap").addEventListener("click", guard(async () => predictOne(await frame($("#video")), "webcam frame")));
  $("#live").addEventListener("change", () => liveLoop());
  $("#csv").addEventListener("click", downloadCsv);
  $("#cam-toggle").addEventListener("click", guard(toggleCam));
  $("#clean-start").addEventListener("click", guard(async () => {
    const o = {};
    if ($("#clean-folds").value) o.folds = Number($("#clean-folds").value);
    if ($("#clean-epochs").value) o.epochs = Number($("#clean-epochs").value);
    await api("POST", `${projectUrl(state.project)}/clean`, o);
    state.jobKind = "clean";
    $("#clean-start").disabled = true;
    $("#clean-status").textContent = "Scoring every image with models that did not train on it…";
    listen();
  }));
  $("#clean-apply").addEventListener("click", guard(async () => {
    const decisions = state.suspects.filter((r) => r.decision && r.decision !== "keep").map((r) => ({ file: r.file, action: r.decision }));
    const done = await api("POST", `${projectUrl(state.project)}/clean/apply`, { decisions });
    $("#clean-status").textContent = `Relabelled ${done.relabelled}, deleted ${done.deleted} (to the data folder's trash). Undo reverts it.`;
    await Promise.all([renderClasses(), renderSuspects()]);
  }));
  $("#clean-undo").addEventListener("click", guard(async () => {
    const done = await api("POST", `${projectUrl(state.project)}/clean/undo`, {});
    $("#clean-status").textContent = done.reverted + done.already + done.refused.length === 0 ? "Nothing to undo."
      : `Reverted ${done.reverted} changes` + (done.refused.length ? `; not reverted: ${done.refused.join("; ")}` : ".");
    await Promise.all([renderClasses(), renderSuspects()]);
  }));
  for (const th of document.querySelectorAll("#bulk-table th")) {
    th.addEventListener("click", () => {
      const key = th.dataset.key;
      state.sort = { key, up: state.sort.key === key ? !state.sort.up : true };
      renderBulk();
    });
  }
  await loadProjects();
}));
