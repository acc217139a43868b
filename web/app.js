// mgd's dashboard: a single page over the daemon's REST API (docs/api.md).
// No framework and no build step: this file is served as it is, embedded
// into mgd. Everything the page shows comes from the API with the token the
// user entered (kept in localStorage); text from the server is only ever
// put into the page as text (textContent), never as HTML, and the device
// graph's SVG is shown as an <img>, where it cannot run anything.
"use strict";

const TOKEN_KEY = "mgd.token";
const TERMINAL = ["succeeded", "failed", "cancelled", "interrupted"];
const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "interrupted"];

// ---- the page's state -------------------------------------------------------

let token = localStorage.getItem(TOKEN_KEY) || "";
// What the current view started (timers, log streams): stopped when the
// user goes elsewhere.
let viewAbort = new AbortController();

const $ = (sel) => document.querySelector(sel);

// h("tag", {attr: value, onclick: fn}, child, "text", ...): an element.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function statusSpan(status) {
  return h("span", { class: "status status-" + status }, status);
}

function ago(rfc3339) {
  if (!rfc3339) return "-";
  const s = Math.round((Date.now() - Date.parse(rfc3339)) / 1000);
  if (s < 5) return "just now";
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 129600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

function when(rfc3339) {
  return rfc3339 ? h("span", { title: rfc3339 }, ago(rfc3339)) : "-";
}

function duration(ms) {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return ms + " ms";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

function size(bytes) {
  if (bytes < 1024) return bytes + " B";
  const units = ["KiB", "MiB", "GiB"];
  let v = bytes / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return v.toFixed(1) + " " + units[u];
}

const enc = (s) => encodeURIComponent(s);
const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

// ---- talking to the daemon ----------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

function showBanner(id, text) {
  const el = $(id);
  el.textContent = text;
  el.hidden = !text;
}

function clearBanners() {
  showBanner("#auth-error", "");
  showBanner("#error", "");
}

// fetch() against the daemon with the token. Resolves to the Response of a
// 2xx answer; otherwise shows what went wrong (401 and 403 in #auth-error)
// and throws an ApiError.
let unreachable = false;

async function call(method, path, { body, accept, signal } = {}) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (accept) headers["Accept"] = accept;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method, headers, signal: signal || viewAbort.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    showBanner("#error", "The daemon cannot be reached: " + e.message);
    unreachable = true;
    throw new ApiError(0, "unreachable", e.message);
  }
  if (unreachable) {
    // it answers again: the banner about it is out of date
    unreachable = false;
    showBanner("#error", "");
  }
  if (res.ok) return res;
  let code = "http_" + res.status, message = res.statusText, details = [];
  try {
    const e = (await res.json()).error;
    code = e.code; message = e.message; details = e.details || [];
  } catch (_) { /* not mgd's error object */ }
  if (res.status === 401) {
    showBanner("#auth-error", "401: the daemon refused this token (" + message +
      "). Enter a token with at least the read scope.");
    // the hidden page must not go on asking with a refused token
    viewAbort.abort();
    askToken();
  } else if (res.status === 403) {
    showBanner("#auth-error", "403: this token's scope is too small: " + message + ".");
  }
  throw new ApiError(res.status, code, message, details);
}

async function getJSON(path, opts) {
  return (await call("GET", path, opts)).json();
}

// Every item of a paginated list.
async function getAll(path) {
  const items = [];
  for (let page = 1; page < 1000; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const res = await call("GET", path + sep + "per_page=100&page=" + page);
    const got = await res.json();
    items.push(...got);
    const total = Number(res.headers.get("X-Total-Count"));
    if (!got.length || !(items.length < total)) break;
  }
  return items;
}

// Shows an error in #error unless it was a 401/403 (shown already) or the
// view went away.
function report(e) {
  if (e.name === "AbortError") return;
  if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 0)) return;
  let text = e instanceof ApiError ? e.code + ": " + e.message : String(e);
  for (const d of (e.details || [])) text += "\n" + (d.path || "/") + ": " + d.message + " (" + d.code + ")";
  showBanner("#error", text);
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException("", "AbortError"));
    const onAbort = () => { clearTimeout(t); reject(new DOMException("", "AbortError")); };
    // the listener goes with the timer, so long-lived pages do not pile them up
    const t = setTimeout(() => { signal.removeEventListener("abort", onAbort); resolve(); }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

// Runs fn() now and every `ms` while the view lasts (and the tab is seen).
function every(ms, fn) {
  const signal = viewAbort.signal;
  (async () => {
    while (!signal.aborted) {
      try { await sleep(ms, signal); } catch (_) { return; }
      if (document.visibilityState === "visible") {
        try { await fn(); } catch (e) { report(e); }
      }
    }
  })();
}

// ---- the token ------------------------------------------------------------------

function askToken() {
  $("#token-form").hidden = false;
  $("#view").hidden = true;
  $("#token-forget").hidden = true;
  $("#token-input").focus();
}

$("#token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = $("#token-input").value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  $("#token-input").value = "";
  $("#token-form").hidden = true;
  $("#view").hidden = false;
  $("#token-forget").hidden = false;
  clearBanners();
  route();
});

$("#token-forget").addEventListener("click", () => {
  token = "";
  localStorage.removeItem(TOKEN_KEY);
  viewAbort.abort();
  clearBanners();
  $("#view").replaceChildren();
  askToken();
});

// ---- pages ------------------------------------------------------------------

async function projectsPage(view) {
  view.append(h("h1", {}, "Projects"));
  const holder = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  view.append(holder);
  async function load() {
    const projects = await getAll("/projects");
    const full = await Promise.all(projects.map((p) => getJSON("/projects/" + p.id)));
    const targets = [...new Set(full.flatMap((p) => Object.keys(p.latest_builds || {})))].sort();
    if (!targets.length) targets.push(await defaultTarget());
    const table = h("table", { id: "projects" },
      h("thead", {}, h("tr", {}, h("th", {}, "Project"), h("th", {}, "Sources"),
        targets.map((t) => h("th", {}, "Latest " + t + " build")))),
      h("tbody", {}, full.map((p) => h("tr", { dataset: { project: p.name } },
        h("td", {}, h("a", { class: "project-link", href: "#/projects/" + enc(p.name) }, p.name)),
        h("td", { class: "muted" }, p.repo ? p.repo.url + (p.repo.ref ? " @ " + p.repo.ref : "")
          : p.sources ? "inline, " + plural(p.sources.files, "file") : "-"),
        targets.map((t) => {
          const b = (p.latest_builds || {})[t];
          return h("td", { class: "latest" }, b ? [
            h("a", { href: "#/builds/" + b.id }, statusSpan(b.status)), " ",
            h("span", { class: "muted" }, "#" + b.id, " · ", when(b.finished_at || b.created_at),
              b.duration_ms !== null ? " · " + duration(b.duration_ms) : ""),
          ] : h("span", { class: "muted" }, "never built"));
        })))));
    holder.replaceChildren(full.length ? table
      : h("p", { class: "empty" }, "No projects yet: create one with mgctl project create or POST /projects."));
  }
  await load();
  every(5000, load);
}

// The configure keys a build of the project can set: the resolved graph's
// keys (but target and arch, which have fields of their own), with their
// allowed values when the config or the catalog declares them.
async function configureKeys(project, config, target, arch) {
  const body = { target };
  if (arch) body.arch = arch;
  let described;
  try {
    described = await (await call("POST", "/projects/" + enc(project) + "/check", { body })).json();
  } catch (e) {
    if (e instanceof ApiError && e.status === 422) return [];
    throw e;
  }
  const declared = Object.assign({}, (config && config.keys) || {});
  const catalog = await catalogKeys();
  return Object.entries(described.keys || {})
    .filter(([name]) => name !== "target" && name !== "arch")
    .map(([name, value]) => {
      const d = declared[name] || catalog[name] || {};
      return { name, value: String(value), values: d.values || (d.type === "bool" ? ["true", "false"] : null),
        doc: d.doc || "" };
    });
}

let catalogCache = null;
async function catalogKeys() {
  if (!catalogCache) {
    const cat = await getJSON("/devices");
    catalogCache = {};
    for (const e of cat.entries || []) Object.assign(catalogCache, e.keys || {});
  }
  return catalogCache;
}

// The target a build gets when none is named: the server's registry says
// which (GET /targets, "default").
let defaultTargetCache = null;
async function defaultTarget() {
  if (!defaultTargetCache) defaultTargetCache = (await getJSON("/targets")).find((t) => t.default).name;
  return defaultTargetCache;
}

let targetsCache = null;
async function availableTargets() {
  if (!targetsCache) {
    const all = await getJSON("/targets");
    targetsCache = all.map((t) => ({ name: t.name, arches: t.arches.filter((a) => a.available).map((a) => a.name) }))
      .filter((t) => t.arches.length);
  }
  return targetsCache;
}

function keyField(k, prefix) {
  const id = prefix + "-key-" + k.name;
  const input = k.values
    ? h("select", { id, name: k.name, dataset: { key: k.name } },
      k.values.map((v) => h("option", { value: String(v), selected: String(v) === k.value }, String(v))))
    : h("input", { id, name: k.name, value: k.value, dataset: { key: k.name } });
  return h("div", { class: "field" }, h("label", { for: id, title: k.doc }, k.name), input);
}

// Puts fresh key fields into `container`, keeping what the user chose in
// the fields they replace (a change of target keeps the keys that remain);
// `old` are the defaults those fields had: a field left at its default gets
// the new one (a key's default may depend on the target).
function setKeyFields(container, keys, prefix, old) {
  const chosen = keysFrom(container, old);
  container.replaceChildren(...keys.map((k) => keyField(k, prefix)));
  for (const el of container.querySelectorAll("[data-key]")) {
    const v = chosen[el.dataset.key];
    if (v !== undefined && (el.tagName !== "SELECT" || [...el.options].some((o) => o.value === v))) el.value = v;
  }
}

function keysFrom(container, defaults) {
  const keys = {};
  for (const el of container.querySelectorAll("[data-key]")) {
    const d = defaults.find((k) => k.name === el.dataset.key);
    if (!d || el.value !== d.value) keys[el.dataset.key] = el.value;
  }
  return keys;
}

async function projectPage(view, name) {
  const signal = viewAbort.signal;
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

  // -- builds
  const statusFilter = h("select", { id: "filter-status" }, h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const targetFilter = h("select", { id: "filter-target" }, h("option", { value: "" }, "any target"),
    targets.map((t) => h("option", { value: t.name }, t.name)));
  const buildsBox = h("div", {});
  view.append(h("h2", {}, "Builds"), h("div", { class: "row" }, statusFilter, targetFilter), buildsBox);
  async function loadBuilds() {
    let q = "/projects/" + enc(p.name) + "/builds?per_page=50";
    if (statusFilter.value) q += "&status=" + enc(statusFilter.value);
    if (targetFilter.value) q += "&target=" + enc(targetFilter.value);
    const builds = await getJSON(q);
    buildsBox.replaceChildren(buildsTable("builds", builds, false,
      statusFilter.value || targetFilter.value ? "No builds match." : "No builds yet."));
  }
  statusFilter.addEventListener("change", () => loadBuilds().catch(report));
  targetFilter.addEventListener("change", () => loadBuilds().catch(report));

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
  await Promise.all([fillArches(), loadBuilds(), graphKeysFor().then(drawGraph)]);
  every(5000, loadBuilds);
}

// A table of builds; `empty` is what it says when there are none.
function buildsTable(id, builds, withProject, empty) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, h("th", {}, "Build"), withProject && h("th", {}, "Project"), h("th", {}, "Status"),
      h("th", {}, "Target"), h("th", {}, "Keys"), h("th", {}, "Created"), h("th", {}, "Duration"),
      h("th", {}, "Image"))),
    h("tbody", {}, builds.map((b) => h("tr", { dataset: { build: b.id } },
      h("td", {}, h("a", { href: "#/builds/" + b.id }, "#" + b.id)),
      withProject && h("td", {}, h("a", { href: "#/projects/" + enc(b.project.name) }, b.project.name)),
      h("td", {}, statusSpan(b.status)),
      h("td", {}, b.target + "/" + b.arch),
      h("td", { class: "mono" }, Object.entries(b.keys || {}).map(([k, v]) => k + "=" + v).join(" ") || "-"),
      h("td", {}, when(b.created_at)),
      h("td", {}, duration(b.duration_ms)),
      h("td", { class: "mono" }, b.image ? b.image.sha256.slice(0, 12) : "-"))),
      builds.length ? null : h("tr", {}, h("td", { class: "empty", colspan: 8 }, empty))));
}

// ---- a build ---------------------------------------------------------------------

const utf8 = new TextEncoder();

// Follows the log into `pre`: server-sent events read from a fetch()
// (EventSource cannot send the token), each line's event id being the byte
// offset after it; if the stream drops, asks for the log from that offset
// until the daemon says it is complete, again after a second while the
// daemon cannot be reached (it restarts), as mgctl does. Resolves when the
// log is complete.
async function followLog(id, pre, signal) {
  let offset = 0;
  const append = (text) => {
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(text);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  };
  let reader = null;
  try {
    const res = await call("GET", "/builds/" + id + "/log?offset=0", { accept: "text/event-stream", signal });
    if ((res.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
      reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "", ended = false;
      while (!ended) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let ev = "message", data = null, eid = null;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const c = line.indexOf(":");
            const field = c < 0 ? line : line.slice(0, c);
            let v = c < 0 ? "" : line.slice(c + 1);
            if (v.startsWith(" ")) v = v.slice(1);
            if (field === "event") ev = v;
            else if (field === "id") eid = v;
            else if (field === "data") data = data === null ? v : data + "\n" + v;
          }
          if (ev === "end") { ended = true; break; }
          if (data === null || eid === null) continue;
          const next = Number(eid);
          const extra = next - offset - utf8.encode(data).length;
          if (!(extra >= 0 && extra <= 2)) throw new Error("the stream's offsets do not fit");
          append(data + (extra === 2 ? "\r\n" : extra === 1 ? "\n" : ""));
          offset = next;
        }
      }
      if (ended) return;
    }
  } catch (e) {
    if (e.name === "AbortError" || (e instanceof ApiError && e.status >= 400 && e.status < 500)) throw e;
    /* the stream dropped or did not fit: poll from where it stopped */
  }
  // a stream that is still open (its offsets did not fit) is closed first
  if (reader) reader.cancel().catch(() => {});
  // one decoder for all the answers: an answer may end inside a character
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  for (;;) {
    let res, bytes;
    try {
      res = await call("GET", "/builds/" + id + "/log?offset=" + offset, { signal });
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      // the daemon away or the answer cut: ask again; an answer of the daemon's stands
      if (e.name === "AbortError" || (e instanceof ApiError && e.status !== 0)) throw e;
      await sleep(1000, signal);
      continue;
    }
    const text = decoder.decode(bytes, { stream: true });
    if (text) append(text);
    offset += bytes.length;
    if (res.headers.get("X-More-Data") === "false" && offset >= Number(res.headers.get("X-Log-Size"))) {
      const rest = decoder.decode();
      if (rest) append(rest);
      return;
    }
    await sleep(1000, signal);
  }
}

function fact(field, label, value) {
  return [h("dt", {}, label), h("dd", { dataset: { field } }, value)];
}

function buildFacts(b) {
  const keys = Object.entries(b.keys || {}).map(([k, v]) => k + "=" + v).join(" ");
  const ids = (list) => list && list.length ? list.map((x, i) => [i ? ", " : "", h("a", { href: "#/builds/" + x }, "#" + x)]) : "-";
  return h("dl", { id: "build-facts", class: "facts" },
    fact("project", "project", h("a", { href: "#/projects/" + enc(b.project.name) }, b.project.name)),
    fact("target", "target", b.target),
    fact("arch", "arch", b.arch),
    fact("keys", "keys", keys || "-"),
    fact("commit", "commit", b.commit ? [b.commit, b.ref ? " (" + b.ref + ")" : ""]
      : b.sources_sha256 ? "inline sources " + b.sources_sha256.slice(0, 12) : "-"),
    fact("config_version", "config version", String(b.config_version)),
    fact("input_hash", "input hash", h("span", { class: "mono" }, b.input_hash || "-")),
    fact("created_at", "created", b.created_at || "-"),
    fact("started_at", "started", b.started_at || "-"),
    fact("finished_at", "finished", b.finished_at || "-"),
    fact("duration", "duration", duration(b.duration_ms)),
    b.worker ? fact("worker", "worker", b.worker) : null,
    fact("cache", "cache", b.cache ? b.cache.hits + " hits, " + b.cache.misses + " misses of " + b.cache.actions + " actions" : "-"),
    b.reused_from ? fact("reused_from", "reused from", h("a", { href: "#/builds/" + b.reused_from }, "#" + b.reused_from)) : null,
    b.rebuild_of ? fact("rebuild_of", "rebuild of", h("a", { href: "#/builds/" + b.rebuild_of }, "#" + b.rebuild_of)) : null,
    fact("reproduced_by", "reproduced by", ids(b.reproduced_by)),
    fact("differs_from", "differs from", ids(b.differs_from)),
    fact("reproduces", "reproduces", ids(b.reproduces)));
}

async function downloadImage(b) {
  const blob = await (await call("GET", "/builds/" + b.id + "/image")).blob();
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: b.image.name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function imageBox(b) {
  if (!b.image) return h("p", { class: "empty" }, b.status === "succeeded" ? "No image." : "No image (the build " +
    (TERMINAL.includes(b.status) ? "did not succeed" : "has not finished") + ").");
  const link = h("a", { id: "image-download", href: "/builds/" + b.id + "/image", download: b.image.name }, "Download " + b.image.name);
  link.addEventListener("click", (ev) => { ev.preventDefault(); downloadImage(b).catch(report); });
  return h("dl", { class: "facts" },
    h("dt", {}, "image"), h("dd", {}, link),
    h("dt", {}, "size"), h("dd", { id: "image-size" }, size(b.image.size) + " (" + b.image.size + " bytes)"),
    h("dt", {}, "sha256"), h("dd", { id: "image-sha256", class: "mono" }, b.image.sha256));
}

function devicesTable(d) {
  return h("table", { id: "build-devices" },
    h("thead", {}, h("tr", {}, h("th", {}, "Device"), h("th", {}, "Implementation"), h("th", {}, "Type"),
      h("th", {}, "Depends on"), h("th", {}, "From"))),
    h("tbody", {}, (d.devices || []).map((x) => h("tr", {},
      h("td", { class: "mono" }, x.id), h("td", {}, x.impl), h("td", {}, x.type),
      h("td", { class: "mono" }, (x.deps || []).join(", ") || "-"), h("td", { class: "mono" }, x.from || "")))));
}

async function buildPage(view, id) {
  const signal = viewAbort.signal;
  let b = await getJSON("/builds/" + id);
  const status = h("span", { id: "build-status", class: "status status-" + b.status }, b.status);
  const cancelBtn = h("button", { class: "plain", type: "button" }, "Cancel");
  const rebuildBtn = h("button", { class: "plain", type: "button" }, "Rebuild");
  const facts = h("div", {}, buildFacts(b));
  const image = h("div", {}, imageBox(b));
  const error = h("p", { id: "build-error", class: "banner error", hidden: !b.error }, b.error || "");
  const log = h("pre", { id: "build-log", class: "log" });
  const devices = h("div", {}, h("p", { class: "empty" }, "Not resolved yet."));
  view.append(h("h1", { id: "build-title" }, "Build " + b.id), h("p", {}, status, " ", cancelBtn, " ", rebuildBtn),
    error, h("div", { class: "grid2" }, h("section", {}, h("h2", {}, "Facts"), facts),
      h("section", {}, h("h2", {}, "Image"), image)),
    h("h2", {}, "Log"), log, h("h2", {}, "Resolved device graph"), devices);

  function show(nb) {
    b = nb;
    status.textContent = b.status;
    status.className = "status status-" + b.status;
    facts.replaceChildren(buildFacts(b));
    image.replaceChildren(imageBox(b));
    error.textContent = b.error || "";
    error.hidden = !b.error;
    cancelBtn.hidden = TERMINAL.includes(b.status);
    rebuildBtn.hidden = !TERMINAL.includes(b.status);
  }
  show(b);
  cancelBtn.addEventListener("click", async () => {
    try { show(await (await call("POST", "/builds/" + b.id + "/cancel")).json()); } catch (e) { report(e); }
  });
  rebuildBtn.addEventListener("click", async () => {
    try { location.hash = "#/builds/" + (await (await call("POST", "/builds/" + b.id + "/rebuild")).json()).id; }
    catch (e) { report(e); }
  });
  let describeShown = false;
  async function showDescribe() {
    if (describeShown) return;
    try {
      devices.replaceChildren(devicesTable(await getJSON("/builds/" + b.id + "/describe")));
      describeShown = true;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }
  // the record while the build runs; the log until it is complete
  const polling = (async () => {
    while (!TERMINAL.includes(b.status)) {
      await sleep(1000, signal);
      show(await getJSON("/builds/" + b.id));
      await showDescribe();
    }
  })().catch((e) => report(e));
  await showDescribe().catch(report);
  await followLog(b.id, log, signal);
  await polling;
  show(await getJSON("/builds/" + b.id));
  await showDescribe();
}

async function queuePage(view) {
  view.append(h("h1", {}, "Queue"));
  const box = h("div", {});
  view.append(box);
  async function load() {
    const builds = await getAll("/builds?status=queued,running");
    box.replaceChildren(buildsTable("queue", builds, true, "Nothing queued or running."));
  }
  await load();
  every(2000, load);
}

async function targetsPage(view) {
  const targets = await getJSON("/targets");
  view.append(h("h1", {}, "Targets"),
    h("table", { id: "targets" },
      h("thead", {}, h("tr", {}, h("th", {}, "Target"), h("th", {}, "Arch"), h("th", {}, "Available"),
        h("th", {}, "Runs here"), h("th", {}, "Note"))),
      h("tbody", {}, targets.flatMap((t) => t.arches.map((a) => h("tr", { dataset: { target: t.name + "/" + a.name } },
        h("td", { title: t.doc || "" }, t.name), h("td", {}, a.name),
        h("td", { class: "available" }, a.available ? "yes" : "no"),
        h("td", {}, a.runnable ? "yes" : "no"),
        h("td", { class: "muted" }, a.reason || a.run_reason || "")))))));
}

// ---- routing --------------------------------------------------------------------

const routes = [
  [/^#?\/?$/, (v) => projectsPage(v), "projects"],
  [/^#\/projects\/?$/, (v) => projectsPage(v), "projects"],
  [/^#\/projects\/([^/]+)$/, (v, m) => projectPage(v, decodeURIComponent(m[1])), "projects"],
  [/^#\/builds\/(\d+)$/, (v, m) => buildPage(v, m[1]), "queue"],
  [/^#\/queue$/, (v) => queuePage(v), "queue"],
  [/^#\/targets$/, (v) => targetsPage(v), "targets"],
];

async function route() {
  viewAbort.abort();
  viewAbort = new AbortController();
  clearBanners();
  if (!token) {
    askToken();
    return;
  }
  $("#token-form").hidden = true;
  $("#token-forget").hidden = false;
  const view = $("#view");
  view.hidden = false;
  view.replaceChildren();
  const hash = location.hash || "#/projects";
  const r = routes.find(([re]) => re.test(hash));
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", !!r && a.dataset.route === r[2]);
  if (!r) {
    view.append(h("h1", {}, "Not found"), h("p", {}, "Nothing is at " + hash + ". ", h("a", { href: "#/projects" }, "Projects")));
    return;
  }
  try {
    await r[1](view, hash.match(r[0]));
  } catch (e) {
    report(e);
  }
}

window.addEventListener("hashchange", route);
route();
