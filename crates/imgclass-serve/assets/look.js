// imgclass serve: the Test, Runs, Clean and Export tabs.
"use strict";

// The project's runs, fetched once for the three tabs that show them.
async function refreshRuns() {
  const runs = state.project ? await api("GET", `${projectUrl(state.project)}/runs`).catch(() => []) : [];
  showTestModels(runs);
  showRuns(runs);
  showExports(runs);
}

// ---- test ----------------------------------------------------------------------------------

function showTestModels(runs) {
  const sel = $("#test-model");
  const keep = sel.value;
  const options = [];
  if (state.project) {
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

function showRuns(runs) {
  const tbody = $("#runs-table tbody");
  if (!state.project) return tbody.replaceChildren();
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

function showExports(all) {
  const box = $("#exports");
  if (!state.project) return box.replaceChildren();
  const runs = all.filter((r) => r.has_model).reverse();
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

