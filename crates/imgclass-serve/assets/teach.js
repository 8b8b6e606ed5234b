// imgclass serve: the Teach tab — projects, classes, uploads, webcam shots, training.
"use strict";

// ---- projects ------------------------------------------------------------------------------

// A project as the selector shows it.
const projectLabel = (p) => `${p.name} (${p.classes} classes, ${p.images} images)`;

async function loadProjects(select) {
  const list = await api("GET", "/api/projects");
  const sel = $("#project");
  sel.replaceChildren(...list.map((p) => el("option", { value: p.name, text: projectLabel(p) })));
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
  await Promise.all([renderClasses(), followJob(), refreshRuns(), renderSuspects()]);
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
    if (p) opt.textContent = projectLabel(p);
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
      if (e.seq > 1) refreshRuns();
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

