// Two builds side by side (#/compare/A/B; #/compare/A picks B, the previous
// build of the same project, target and arch that has an image): their
// inputs (sources, config version and the diff of the two configs, keys,
// toolchain, input hash), how they went, their device graphs, their images'
// sizes per section and per group, and whether the images are the same
// bytes. Everything from the API is put into the page as text.
import { h, statusSpan, when, duration, size, enc, call, getJSON, report, ApiError, scroller } from "./lib.js";
import { loadSizes, rowHead, allocated } from "./treemap.js";
import { lineDiff } from "./diff.js";

const pretty = (doc) => JSON.stringify(doc, null, 2);

// The diff as a <pre>: each line a span with data-op, its sign in front (so
// the difference does not rest on colour), unchanged runs longer than six
// lines folded to their first and last three.
function diffBlock(lines) {
  // focusable: it scrolls when long, and a keyboard must be able to scroll it
  const pre = h("pre", { id: "compare-config-diff", class: "doc", tabindex: 0, "aria-label": "the configs' line diff" });
  const colour = { "+": "var(--ok)", "-": "var(--bad)" };
  const line = ([op, text]) => {
    const el = h("span", { class: "diff-line", dataset: { op: op === " " ? "same" : op === "+" ? "added" : "removed" } },
      (op === " " ? "  " : op + " ") + text + "\n");
    if (colour[op]) { el.style.color = colour[op]; el.style.fontWeight = "600"; }
    return el;
  };
  for (let k = 0; k < lines.length;) {
    let e = k;
    while (e < lines.length && lines[e][0] === " ") e++;
    if (e - k > 6) {
      pre.append(...lines.slice(k, k + 3).map(line),
        h("span", { class: "muted diff-fold" }, "  … " + (e - k - 6) + " unchanged lines\n"),
        ...lines.slice(e - 3, e).map(line));
      k = e;
    } else if (e > k) {
      pre.append(...lines.slice(k, e).map(line));
      k = e;
    } else {
      pre.append(line(lines[k]));
      k++;
    }
  }
  return pre;
}

// ---- side by side ------------------------------------------------------------------



const sources = (b) => b.commit ? b.commit + (b.ref ? " (" + b.ref + ")" : "")
  : b.sources_sha256 ? "inline sources " + b.sources_sha256 : "-";
const keysText = (b) => Object.entries(b.keys || {}).map(([k, v]) => k + "=" + v).join(" ") || "(defaults)";
const cacheText = (b) => b.cache ? b.cache.hits + " hits, " + b.cache.misses + " misses of " + b.cache.actions : "-";
// "toolchain" (a sha256 of the toolchain's identity) is null when unknown
// and absent from daemons that predate it
const toolchain = (b) => b.toolchain ? b.toolchain : "unknown";

// A row of the inputs table: field, A, B, and whether they differ (said in
// words, in its own column, and as data-changed for the tests).
// Marks a row that differs (style.css tr.differs: a bar at its left, a
// faint tint light enough for the status colours to keep 4.5:1).
function mark(tr) {
  tr.classList.add("differs");
}

function row(field, label, a, b, { compare = true, same } = {}) {
  const at = typeof a === "string" ? a : null, bt = typeof b === "string" ? b : null;
  const changed = compare && (same !== undefined ? !same : at !== bt);
  const tr = h("tr", { dataset: { field, changed: changed ? "true" : "false" } },
    rowHead(label), h("td", { class: "mono" }, a), h("td", { class: "mono" }, b),
    h("td", {}, changed ? h("strong", { class: "changed" }, "changed") : compare ? h("span", { class: "muted" }, "same") : ""));
  if (changed) mark(tr);
  for (const td of [tr.children[1], tr.children[2]]) td.style.overflowWrap = "anywhere";
  return tr;
}

function inputsTable(A, B) {
  const keys = [...new Set([...Object.keys(A.keys || {}), ...Object.keys(B.keys || {})])].sort();
  const kv = (b, k) => k in (b.keys || {}) ? String(b.keys[k]) : "(default)";
  const link = (b) => h("a", { href: "#/builds/" + b.id }, "#" + b.id);
  return h("table", { id: "compare-inputs" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Input"), h("th", { scope: "col" }, "A: ", link(A)),
      h("th", { scope: "col" }, "B: ", link(B)), h("th", { scope: "col" }, "A against B"))),
    h("tbody", {},
      row("project", "project", A.project.name, B.project.name),
      row("target", "target / arch", A.target + " / " + A.arch, B.target + " / " + B.arch),
      row("sources", "commit or sources", sources(A), sources(B)),
      row("config_version", "config version", String(A.config_version), String(B.config_version)),
      keys.length ? keys.map((k) => row("key:" + k, "key " + k, kv(A, k), kv(B, k)))
        : row("keys", "keys", keysText(A), keysText(B)),
      // an unknown identity is neither the same nor another
      row("toolchain", "toolchain", toolchain(A), toolchain(B), { compare: !!(A.toolchain && B.toolchain) }),
      row("input_hash", "input hash", A.input_hash || "-", B.input_hash || "-"),
      row("force", "forced / rebuild of", (A.force ? "forced" : "no") + (A.rebuild_of ? ", rebuild of #" + A.rebuild_of : ""),
        (B.force ? "forced" : "no") + (B.rebuild_of ? ", rebuild of #" + B.rebuild_of : "")),
      row("reused_from", "reused from", A.reused_from ? "#" + A.reused_from : "-", B.reused_from ? "#" + B.reused_from : "-"),
      row("status", "status", statusSpan(A.status), statusSpan(B.status), { same: A.status === B.status }),
      row("created_at", "created", when(A.created_at), when(B.created_at), { compare: false }),
      row("duration", "duration", duration(A.duration_ms), duration(B.duration_ms), { compare: false }),
      row("cache", "cache", cacheText(A), cacheText(B), { compare: false }),
      row("image", "image", A.image ? A.image.name + ", " + A.image.size + " bytes" : "none",
        B.image ? B.image.name + ", " + B.image.size + " bytes" : "none"),
      row("sha256", "image sha256", A.image ? A.image.sha256 : "-", B.image ? B.image.sha256 : "-")));
}

// Whether the two images are the same bytes (by sha256).
function identical(A, B) {
  let text;
  if (!A.image || !B.image) text = "Not comparable: " + (!A.image && !B.image ? "neither build has" : "build #" + (A.image ? B.id : A.id) + " has no") + " image.";
  else if (A.image.sha256 === B.image.sha256) text = "Identical: both images are the same " + A.image.size + " bytes (sha256 " + A.image.sha256.slice(0, 16) + "…).";
  else {
    const d = B.image.size - A.image.size;
    text = "The images differ (other sha256s): " + (d ? (d > 0 ? "+" : "") + d + " bytes from A to B." : "the same size, other bytes.");
  }
  return h("p", { id: "compare-image", class: "card", dataset: {
    identical: A.image && B.image ? String(A.image.sha256 === B.image.sha256) : "unknown" } }, text);
}

async function configDiff(A, B) {
  const box = h("div", { id: "compare-config" });
  if (A.project.id !== B.project.id) {
    box.append(h("p", { class: "muted" }, "Different projects: configs not compared."));
    return box;
  }
  if (A.config_version === B.config_version) {
    box.append(h("p", { class: "muted" }, "Both built config version " + A.config_version + "."));
    return box;
  }
  const base = "/projects/" + A.project.id + "/config?version=";
  const [ca, cb] = await Promise.all([getJSON(base + A.config_version), getJSON(base + B.config_version)]);
  box.append(h("p", {}, "Config version " + A.config_version + " (A) against version " + B.config_version + " (B):"),
    diffBlock(lineDiff(pretty(ca), pretty(cb))));
  return box;
}

// The devices of the two resolved graphs by id: only in A, only in B, a
// different implementation, or the same.
async function devicesDiff(A, B) {
  const get = (b) => getJSON("/builds/" + b.id + "/describe").catch((e) => {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  });
  const [da, db] = await Promise.all([get(A), get(B)]);
  if (!da || !db) return h("p", { id: "compare-devices", class: "empty" },
    "Build #" + (!da ? A.id : B.id) + " has no resolved graph (it stopped before resolving its config).");
  const ma = new Map(da.devices.map((d) => [d.id, d])), mb = new Map(db.devices.map((d) => [d.id, d]));
  const ids = [...new Set([...ma.keys(), ...mb.keys()])];
  const implOf = (d) => d ? d.impl + (d.symbol ? " (" + d.symbol + ")" : "") : "-";
  const rows = ids.map((id) => {
    const a = ma.get(id), b = mb.get(id);
    const state = !b ? "only in A" : !a ? "only in B" : implOf(a) !== implOf(b) ? "different implementation"
      : (a.deps || []).join(",") !== (b.deps || []).join(",") ? "different dependencies" : "same";
    const tr = h("tr", { dataset: { device: id, state: state.replace(/ /g, "-") } },
      rowHead(id, true), h("td", {}, implOf(a)), h("td", {}, implOf(b)),
      h("td", {}, state === "same" ? h("span", { class: "muted" }, state) : h("strong", {}, state)));
    if (state !== "same") mark(tr);
    return tr;
  });
  const changed = rows.filter((r) => r.dataset.state !== "same").length;
  return h("div", {}, h("p", { class: "muted" }, ids.length + " devices, " + (changed ? changed + " not the same" : "all the same") + "."),
    scroller(h("table", { id: "compare-devices" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Device"), h("th", { scope: "col" }, "A"),
        h("th", { scope: "col" }, "B"), h("th", { scope: "col" }, "A against B"))),
      h("tbody", {}, rows))));
}

// Sizes side by side: one table of named figures (sections or groups) with
// the difference from A to B in bytes and per cent.
function sizeTable(id, what, la, lb) {
  const ma = new Map(la.map((x) => [x.name, x.size])), mb = new Map(lb.map((x) => [x.name, x.size]));
  const names = [...new Set([...ma.keys(), ...mb.keys()])]
    .sort((x, y) => Math.max(mb.get(y) || 0, ma.get(y) || 0) - Math.max(mb.get(x) || 0, ma.get(x) || 0));
  const cell = (v) => v === undefined ? "-" : String(v);
  return h("table", { id },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, what), h("th", { scope: "col" }, "A bytes"),
      h("th", { scope: "col" }, "B bytes"), h("th", { scope: "col" }, "difference"), h("th", { scope: "col" }, "%"))),
    h("tbody", {}, names.map((n) => {
      const a = ma.get(n), b = mb.get(n);
      const d = (b || 0) - (a || 0);
      const pct = a ? (d >= 0 ? "+" : "") + (100 * d / a).toFixed(1) + " %" : b ? "new" : "-";
      return h("tr", { dataset: { name: n, diff: String(d) } }, rowHead(n, true),
        h("td", {}, cell(a)), h("td", {}, cell(b)), h("td", {}, (d > 0 ? "+" : "") + d),
        h("td", {}, a === undefined && b !== undefined ? "only in B" : b === undefined && a !== undefined ? "only in A" : pct));
    })));
}

async function sizesDiff(A, B) {
  const [sa, sb] = await Promise.all([A, B].map((b) => b.image ? loadSizes(b.id) : { unavailable: "build #" + b.id + " has no image" }));
  const box = h("div", { id: "compare-sizes" });
  const missing = [[A, sa], [B, sb]].filter(([, x]) => x.unavailable);
  if (missing.length) {
    box.append(h("p", { class: "empty", role: "status" }, "No size breakdown to compare: " +
      missing.map(([b, x]) => "#" + b.id + ": " + x.unavailable).join("; ")));
    return box;
  }
  const total = (x) => [{ name: "the image file", size: x.image.size }, { name: "in memory (allocated sections)", size: allocated(x) }];
  box.append(
    scroller(sizeTable("compare-size-total", "Image", total(sa), total(sb))),
    h("h3", {}, "Per section"), scroller(sizeTable("compare-sections", "Section", sa.sections, sb.sections)),
    h("h3", {}, "Per group (device, runtime module, application, library, …)"),
    scroller(sizeTable("compare-groups", "Group", [...sa.groups, { name: "unattributed", size: sa.unattributed }],
      [...sb.groups, { name: "unattributed", size: sb.unattributed }])),
    h("p", {}, h("a", { href: "#/builds/" + A.id + "/size" }, "Treemap of A"), " · ",
      h("a", { href: "#/builds/" + B.id + "/size" }, "Treemap of B")));
  return box;
}

// ---- choosing B ------------------------------------------------------------------

// The builds of A's project, target and arch before A (newest first), the
// first `want` of them, looking at 5 pages at most.
async function earlier(A, want, withImage) {
  const out = [];
  const q = "/projects/" + A.project.id + "/builds?per_page=100&target=" + enc(A.target) + "&arch=" + enc(A.arch) +
    (withImage ? "&status=succeeded" : "");
  for (let page = 1; page <= 5 && out.length < want; page++) {
    const res = await call("GET", q + "&page=" + page);
    const got = await res.json();
    out.push(...got.filter((b) => b.id < A.id && b.arch === A.arch && (!withImage || b.image)));
    if (got.length < 100) break;
  }
  return out.slice(0, want);
}

function picker(A, B, recent) {
  const input = h("input", { id: "compare-other", name: "other", inputmode: "numeric", pattern: "[0-9]+", size: 8,
    value: B ? B.id : "", required: true });
  const list = h("select", { id: "compare-recent" }, h("option", { value: "" }, "a recent build…"),
    recent.map((b) => h("option", { value: b.id }, "#" + b.id + " · " + b.status + " · config v" + b.config_version +
      " · " + (keysText(b)) + (b.image ? " · " + size(b.image.size) : ""))));
  list.addEventListener("change", () => { if (list.value) input.value = list.value; });
  // its options are long: on a phone it must not widen the page
  list.style.maxWidth = "calc(100vw - 4em)";
  const form = h("form", { id: "compare-pick", class: "row card" },
    h("div", { class: "field" }, h("label", { for: "compare-other" }, "compare #" + A.id + " with build"), input),
    h("div", { class: "field" }, h("label", { for: "compare-recent" }, "or pick one of the same target"), list),
    h("button", { type: "submit" }, "Compare"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    if (/^\d+$/.test(v)) location.hash = "#/compare/" + A.id + "/" + v;
  });
  return form;
}

export async function comparePage(view, a, b) {
  const A = await getJSON("/builds/" + enc(a));
  const recent = await earlier(A, 20, false);
  let B = null, missing = null;
  if (b !== undefined) {
    try {
      B = await getJSON("/builds/" + enc(b));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
      missing = e.message;
    }
  } else {
    const prev = await earlier(A, 1, true);
    if (prev.length) B = await getJSON("/builds/" + prev[0].id);
  }
  view.append(h("h1", { id: "compare-title" }, B ? "Build " + A.id + " (A) and build " + B.id + " (B)" : "Compare build " + A.id),
    picker(A, B, recent));
  if (!B) {
    view.append(h("p", { id: "compare-none", class: "empty", role: "status" }, missing ? "No build " + b + " (" + missing +
      "): choose a build to compare with." : "No earlier build of " + A.project.name + " for " + A.target + "/" + A.arch +
      " has an image: choose a build to compare with."));
    return;
  }
  if (b === undefined) {
    view.append(h("p", { class: "muted" }, "B is the previous build of " + A.project.name + " for " + A.target + "/" + A.arch +
      " with an image."));
  }
  const configBox = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const devicesBox = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  const sizesBox = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  view.append(identical(A, B),
    h("h2", {}, "Inputs and outcome"), scroller(inputsTable(A, B)),
    h("h2", {}, "Config"), configBox,
    h("h2", {}, "Device graph"), devicesBox,
    h("h2", {}, "Image size"), sizesBox);
  const fill = (box, p) => p.then((el) => box.replaceChildren(el)).catch((e) => {
    box.replaceChildren(h("p", { class: "empty" }, "Could not load this part."));
    report(e);
  });
  await Promise.all([fill(configBox, configDiff(A, B)), fill(devicesBox, devicesDiff(A, B)), fill(sizesBox, sizesDiff(A, B))]);
}
