// A project's page (build form, builds, config and device graph); the
// projects page is in projectlist.js.
import { h, ago, size, enc, plural, clearBanners, call, getJSON, getAll, report, viewSignal } from "./lib.js";
import { configureKeys, defaultTarget, availableTargets, setKeyFields, keysFrom } from "./forms.js";
import { mountBuildsList } from "./builds.js";
import { ApiError, hashParams, setHashParams, requireScope } from "./lib.js";
import { keyFieldOf, markInvalid, clearInvalid } from "./forms.js";
import { diffView } from "./diff.js";

export async function projectPage(view, name, params = new URLSearchParams()) {
  const signal = viewSignal();
  // an unknown project: the router's Not found page, with the daemon's words
  const p = await getJSON("/projects/" + enc(name));
  const targets = await availableTargets();
  const preferred = await defaultTarget();
  view.append(h("h1", { id: "project-name" }, p.name),
    h("p", { class: "muted" }, p.repo ? "git " + p.repo.url + (p.repo.ref ? " @ " + p.repo.ref : "")
      : "inline sources: " + plural(p.sources.files, "file") + ", " + size(p.sources.bytes),
    " · config version " + p.config_version, " · ",
    h("a", { id: "project-trends", href: "#/projects/" + enc(p.name) + "/trends" }, "Trends")));

  // -- start a build
  // the daemon's default target first chosen, as a build that names none gets
  const targetSel = h("select", { name: "target", id: "build-target" },
    targets.map((t) => h("option", { value: t.name, selected: t.name === preferred }, t.name)));
  const archSel = h("select", { name: "arch", id: "build-arch" });
  const keysBox = h("div", { id: "build-keys", class: "row" });
  const startBtn = h("button", { id: "build-start", type: "submit" }, "Start build");
  // kept by reference: form.elements.NAME would also find a configure key named ref or force
  const refInput = h("input", { id: "build-ref", name: "ref", placeholder: p.repo ? (p.repo.ref || "default branch") : "inline sources",
    disabled: !p.repo });
  const forceBox = h("input", { id: "build-force", name: "force", type: "checkbox", "aria-describedby": "build-force-hint" });
  const formError = h("div", { id: "build-form-error", class: "field-error", role: "alert", hidden: true });
  // the keys come before the button, so that Tab reaches them first
  const form = h("form", { id: "build-form", class: "card" },
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "build-target" }, "target"), targetSel),
      h("div", { class: "field" }, h("label", { for: "build-arch" }, "arch"), archSel),
      h("div", { class: "field" }, h("label", { for: "build-ref" }, "ref"), refInput),
      h("div", { class: "field" }, h("label", { for: "build-force" }, "force"), forceBox)),
    h("p", { id: "build-force-hint", class: "muted" }, "force: run every action again, even when an identical " +
      "build succeeded before, instead of reusing its image and the cached outputs (a check that the build reproduces)."),
    keysBox, formError,
    h("div", { class: "row" }, startBtn));
  view.append(h("h2", {}, "Start a build"), form);
  // a read token may look but not build: the button says so, in its note
  // #build-start-why (the daemon would answer 403 anyway)
  const cannotBuild = await requireScope(startBtn, "write");
  const config = await getJSON("/projects/" + enc(p.name) + "/config"); // the latest: what a build takes
  let formKeys = [];
  async function fillArches() {
    const t = targets.find((x) => x.name === targetSel.value);
    archSel.replaceChildren(...(t ? t.arches : []).map((a) => h("option", { value: a }, a)));
    const keys = await configureKeys(p.name, config, targetSel.value, archSel.value);
    setKeyFields(keysBox, keys, "build", formKeys);
    formKeys = keys;
  }
  function clearFormErrors() {
    for (const el of keysBox.querySelectorAll("[aria-invalid]")) clearInvalid(el);
    formError.replaceChildren();
    formError.hidden = true;
  }
  // A 422 is said once: each detail about a key next to its field (the
  // first such field focused), the others above the button.
  function show422(e) {
    const rest = [];
    let first = null;
    for (const d of e.details) {
      const el = keyFieldOf(keysBox, d.path);
      if (!el) { rest.push(d); continue; }
      markInvalid(el, d.message);
      first = first || el;
    }
    if (rest.length || !e.details.length) {
      formError.replaceChildren(...(rest.length ? rest.map((d) => h("div", {}, (d.path ? d.path + ": " : "") + d.message))
        : [e.message]));
      formError.hidden = false;
    }
    if (first) first.focus();
  }
  targetSel.addEventListener("change", () => { clearFormErrors(); fillArches().catch(report); });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    startBtn.disabled = true;
    clearBanners();
    clearFormErrors();
    try {
      const body = { target: targetSel.value, arch: archSel.value, keys: keysFrom(keysBox, formKeys) };
      const ref = refInput.value.trim();
      if (ref) body.ref = ref;
      if (forceBox.checked) body.force = true;
      const b = await (await call("POST", "/projects/" + enc(p.name) + "/build", { body })).json();
      location.hash = "#/builds/" + b.id;
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) show422(e);
      else report(e);
    } finally {
      startBtn.disabled = !!cannotBuild;
    }
  });

  // -- builds (builds.js: filters and page in the URL, live updates)
  view.append(h("h2", {}, "Builds"));
  const buildsShown = mountBuildsList(view.appendChild(h("section", { id: "project-builds" })),
    { id: "builds", project: p, params });

  // -- config and graph
  // The version shown (?version=N; the latest without it) is the one the
  // graph is drawn from; ?diff=M shows the changes from version M to it.
  const versions = await getAll("/projects/" + enc(p.name) + "/config/versions");
  const latest = versions.length ? versions[0].version : p.config_version;
  const wanted = (k) => {
    const v = Number(params.get(k));
    return versions.some((x) => x.version === v) ? v : null;
  };
  const versionName = (v) => "version " + v + (v === latest ? " (latest)" : "");
  const versionSel = h("select", { id: "config-version" },
    versions.map((v) => h("option", { value: v.version, selected: v.version === (wanted("version") || latest) },
      versionName(v.version) + " · " + ago(v.created_at))));
  const diffSel = h("select", { id: "config-diff-base" }, h("option", { value: "" }, "no diff"),
    versions.map((v) => h("option", { value: v.version, selected: v.version === wanted("diff") }, "changes since version " + v.version)));
  const doc = h("pre", { id: "config-doc", class: "doc", tabindex: 0, "aria-label": "the config document" });
  const diffBox = h("div", { id: "config-diff-box" });
  const graphTarget = h("select", { id: "graph-target" }, targets.map((t) => h("option", { value: t.name, selected: t.name === preferred }, t.name)));
  const graphKeys = h("div", { id: "graph-keys", class: "row" });
  const graphBtn = h("button", { id: "graph-show", type: "button" }, "Draw");
  const graphOf = h("span", { id: "graph-version", class: "muted" });
  const graph = h("div", { id: "graph" });
  view.append(h("div", { class: "grid2" },
    h("section", {}, h("h2", {}, "Config"),
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "config-version" }, "version"), versionSel),
        // a diff needs two versions
        h("div", { class: "field", hidden: versions.length < 2 }, h("label", { for: "config-diff-base" }, "diff"), diffSel)),
      diffBox, doc),
    h("section", {}, h("h2", {}, "Device graph ", graphOf),
      h("div", { class: "row" }, h("div", { class: "field" }, h("label", { for: "graph-target" }, "target"), graphTarget),
        graphKeys, graphBtn), graph)));
  const cfgPath = "/projects/" + enc(p.name) + "/config";
  const docs = new Map(); // version -> its pretty-printed JSON
  docs.set(latest, JSON.stringify(config, null, 2));
  async function docOf(v) {
    if (!docs.has(v)) docs.set(v, JSON.stringify(await getJSON(cfgPath + "?version=" + v), null, 2));
    return docs.get(v);
  }
  // the shown version and its document (which declares the graph's keys);
  // the latest is asked for without a version
  let shown = { v: latest, config };
  const chosenVersion = () => (shown.v === latest ? null : shown.v);
  async function showConfig() {
    const v = Number(versionSel.value) || latest;
    const text = await docOf(v);
    shown = { v, config: JSON.parse(text) };
    doc.textContent = text;
    graphOf.textContent = "of config " + versionName(v);
    await showDiff();
  }
  async function showDiff() {
    const base = Number(diffSel.value);
    const v = shown.v;
    // the diff holds the whole document, its changes marked: shown instead
    diffBox.replaceChildren(...(base ? diffView(await docOf(base), await docOf(v),
      { id: "config-diff", oldName: "version " + base, newName: "version " + v }) : []));
    doc.hidden = !!base;
  }
  // the URL keeps the other pages' parameters (the builds' filters)
  function remember() {
    const q = hashParams();
    q.set("version", versionSel.value);
    q.set("diff", diffSel.value);
    setHashParams(q, { push: true });
  }
  let graphDefaults = [];
  async function graphKeysFor() {
    const keys = await configureKeys(p.name, shown.config, graphTarget.value, null, chosenVersion());
    setKeyFields(graphKeys, keys, "graph", graphDefaults);
    graphDefaults = keys;
  }
  let graphUrl = null;
  signal.addEventListener("abort", () => { if (graphUrl) URL.revokeObjectURL(graphUrl); }, { once: true });
  async function drawGraph() {
    let q = "/projects/" + enc(p.name) + "/graph?format=svg&target=" + enc(graphTarget.value);
    if (chosenVersion()) q += "&version=" + chosenVersion();
    for (const [k, v] of Object.entries(keysFrom(graphKeys, graphDefaults))) q += "&key=" + enc(k + "=" + v);
    const blob = await (await call("GET", q)).blob();
    if (graphUrl) URL.revokeObjectURL(graphUrl);
    graphUrl = URL.createObjectURL(new Blob([blob], { type: "image/svg+xml" }));
    graph.replaceChildren(h("img", { id: "graph-img", src: graphUrl, alt: "device graph of " + p.name + ", config version " + shown.v }));
  }
  versionSel.addEventListener("change", () => {
    remember();
    showConfig().then(graphKeysFor).then(drawGraph).catch(report);
  });
  diffSel.addEventListener("change", () => { remember(); showDiff().catch(report); });
  graphTarget.addEventListener("change", () => graphKeysFor().then(drawGraph).catch(report));
  graphBtn.addEventListener("click", () => drawGraph().catch(report));

  await showConfig();
  await Promise.all([fillArches(), buildsShown, graphKeysFor().then(drawGraph)]);
}
