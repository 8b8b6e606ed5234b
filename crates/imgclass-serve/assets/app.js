// imgclass serve: the page's wiring — tabs, buttons and forms to the functions of common.js,
// teach.js and look.js.
"use strict";

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
    refreshRuns();
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
