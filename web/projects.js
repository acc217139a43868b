// A project's page (build form, builds, config and device graph); the
// projects page is in projectlist.js.
import { h, ago, size, enc, plural, clearBanners, call, getJSON, getAll, report, viewSignal, hashParams } from "./lib.js";
import { configureKeys, defaultTarget, availableTargets, setKeyFields, keysFrom } from "./forms.js";
import { mountBuildsList } from "./builds.js";

export async function projectPage(view, name) {
  const signal = viewSignal();
  const p = await getJSON("/projects/" + enc(name));
  const targets = await availableTargets();
  view.append(h("h1", { id: "project-name" }, p.name),
    h("p", { class: "muted" }, p.repo ? "git " + p.repo.url + (p.repo.ref ? " @ " + p.repo.ref : "")
      : "inline sources: " + plural(p.sources.files, "file") + ", " + size(p.sources.bytes),
    " · config version " + p.config_version));

  // -- start a build
  const targetSel = h("select", { name: "target", id: "build-target" },
    targets.map((t) => h("option", { value: t.name }, t.name)));
  const archSel = h("select", { name: "arch", id: "build-arch" });
  const keysBox = h("div", { class: "row" });
  const startBtn = h("button", { id: "build-start", type: "submit" }, "Start build");
  // kept by reference: form.elements.NAME would also find a configure key named ref or force
  const refInput = h("input", { id: "build-ref", name: "ref", placeholder: p.repo ? (p.repo.ref || "default branch") : "inline sources",
    disabled: !p.repo });
  const forceBox = h("input", { id: "build-force", name: "force", type: "checkbox" });
  const form = h("form", { id: "build-form", class: "card" },
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "build-target" }, "target"), targetSel),
      h("div", { class: "field" }, h("label", { for: "build-arch" }, "arch"), archSel),
      h("div", { class: "field" }, h("label", { for: "build-ref" }, "ref"), refInput),
      h("div", { class: "field" }, h("label", { for: "build-force" }, "force"), forceBox),
      startBtn),
    keysBox);
  view.append(h("h2", {}, "Start a build"), form);
  let config = null;
  let formKeys = [];
  async function fillArches() {
    const t = targets.find((x) => x.name === targetSel.value);
    archSel.replaceChildren(...(t ? t.arches : []).map((a) => h("option", { value: a }, a)));
    const keys = await configureKeys(p.name, config, targetSel.value, archSel.value);
    setKeyFields(keysBox, keys, "build", formKeys);
    formKeys = keys;
  }
  targetSel.addEventListener("change", () => fillArches().catch(report));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    startBtn.disabled = true;
    clearBanners();
    try {
      const body = { target: targetSel.value, arch: archSel.value, keys: keysFrom(keysBox, formKeys) };
      const ref = refInput.value.trim();
      if (ref) body.ref = ref;
      if (forceBox.checked) body.force = true;
      const b = await (await call("POST", "/projects/" + enc(p.name) + "/build", { body })).json();
      location.hash = "#/builds/" + b.id;
    } catch (e) {
      report(e);
    } finally {
      startBtn.disabled = false;
    }
  });

  // -- builds (builds.js: filters and page in the URL, live updates)
  view.append(h("h2", {}, "Builds"));
  const buildsShown = mountBuildsList(view.appendChild(h("section", { id: "project-builds" })),
    { id: "builds", project: p, params: hashParams() });

  // -- config and graph
  const versions = await getAll("/projects/" + enc(p.name) + "/config/versions");
  const versionSel = h("select", { id: "config-version" },
    versions.map((v) => h("option", { value: v.version }, "version " + v.version + " · " + ago(v.created_at))));
  const doc = h("pre", { id: "config-doc", class: "doc" });
  const graphTarget = h("select", { id: "graph-target" }, targets.map((t) => h("option", { value: t.name }, t.name)));
  const graphKeys = h("div", { id: "graph-keys", class: "row" });
  const graphBtn = h("button", { id: "graph-show", type: "button" }, "Draw");
  const graph = h("div", { id: "graph" });
  view.append(h("div", { class: "grid2" },
    h("section", {}, h("h2", {}, "Config"), versionSel, " ", doc),
    h("section", {}, h("h2", {}, "Device graph"),
      h("div", { class: "row" }, h("div", { class: "field" }, h("label", { for: "graph-target" }, "target"), graphTarget),
        graphKeys, graphBtn), graph)));
  async function showConfig() {
    const v = versionSel.value;
    const d = await getJSON("/projects/" + enc(p.name) + "/config" + (v ? "?version=" + v : ""));
    if (!config) config = d;
    doc.textContent = JSON.stringify(d, null, 2);
  }
  let graphDefaults = [];
  async function graphKeysFor() {
    const keys = await configureKeys(p.name, config, graphTarget.value);
    setKeyFields(graphKeys, keys, "graph", graphDefaults);
    graphDefaults = keys;
  }
  let graphUrl = null;
  signal.addEventListener("abort", () => { if (graphUrl) URL.revokeObjectURL(graphUrl); }, { once: true });
  async function drawGraph() {
    let q = "/projects/" + enc(p.name) + "/graph?format=svg&target=" + enc(graphTarget.value);
    for (const [k, v] of Object.entries(keysFrom(graphKeys, graphDefaults))) q += "&key=" + enc(k + "=" + v);
    const blob = await (await call("GET", q)).blob();
    if (graphUrl) URL.revokeObjectURL(graphUrl);
    graphUrl = URL.createObjectURL(new Blob([blob], { type: "image/svg+xml" }));
    graph.replaceChildren(h("img", { id: "graph-img", src: graphUrl, alt: "device graph of " + p.name }));
  }
  versionSel.addEventListener("change", () => showConfig().catch(report));
  graphTarget.addEventListener("change", () => graphKeysFor().then(drawGraph).catch(report));
  graphBtn.addEventListener("click", () => drawGraph().catch(report));

  await showConfig();
  await Promise.all([fillArches(), buildsShown, graphKeysFor().then(drawGraph)]);
}
