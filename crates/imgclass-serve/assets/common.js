// imgclass serve: the page's shared helpers. Plain JavaScript, no build step, nothing fetched
// from elsewhere; the page loads common.js, teach.js, look.js and app.js in order (classic
// scripts: their top-level names are shared). Every request goes through api(); every change
// carries the page's token.
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
