// An image's size explained (#/builds/ID/size): GET /builds/:id/sizes drawn
// as a squarified treemap in SVG (the image's groups, each a device or
// runtime module, the user's code, generated code, a library or the
// compiler's support code, with their largest symbols inside), with tables
// of the same figures beside it for keyboards and screen readers, and the
// image's sections. Symbol names come from the image: they are only ever
// put into the page as text (textContent), never as markup. The compare page
// (compare.js) reuses loadSizes and KIND_COLOURS.
import { h, size, enc, ApiError, getJSON, scroller } from "./lib.js";

const SVG = "http://www.w3.org/2000/svg";

// s("rect", {x: 1, ...}, child...): an SVG element; attributes set one by
// one (never markup), children appended as nodes or text.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Fills of the group kinds: light tones under dark text, readable in both
// colour schemes (the treemap draws its own background).
export const KIND_COLOURS = {
  device: "#9cc9e6", runtime: "#f3c969", app: "#a5d38a", generated: "#d3bde6",
  library: "#f2ae7c", compiler: "#c4c9ce", unattributed: "#e4e4e4",
};

// GET /builds/:id/sizes, or {unavailable: message} when the daemon answers
// 409 (no image: the build did not succeed; sizes_unavailable: its link
// outputs are gone): a state to explain, not an error.
export async function loadSizes(id) {
  try {
    return await getJSON("/builds/" + enc(id) + "/sizes");
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) return { unavailable: e.message, code: e.code };
    throw e;
  }
}

// A row header as written (the tables' headers are upper-cased by the style
// sheet, but key names and device ids are case-sensitive).
export function rowHead(text, mono) {
  const th = h("th", { scope: "row", class: mono ? "mono" : null }, text);
  th.style.textTransform = "none";
  th.style.letterSpacing = "normal";
  return th;
}

// The bytes the image takes in memory: its allocated sections, .bss
// included (memory but no file bytes). The groups and "unattributed" add up
// to it, so shares are of this, not of the file's size.
export const allocated = (sz) => sz.sections.reduce((t, x) => t + x.size, 0);

export const percent = (part, whole) => whole > 0 ? (100 * part / whole).toFixed(1) + " %" : "-";

// ---- the squarified layout (Bruls, Huizing, van Wijk 2000) -------------------

// The worst aspect ratio of a row of areas laid along a side of `side`.
function worst(row, side) {
  let sum = 0, max = 0, min = Infinity;
  for (const a of row) { sum += a; max = Math.max(max, a); min = Math.min(min, a); }
  const s2 = side * side, sum2 = sum * sum;
  return Math.max(s2 * max / sum2, sum2 / (s2 * min));
}

// Lays `items` ({value > 0}, largest first) out in the rectangle x, y, w, h:
// answers [{item, x, y, w, h}], each rectangle's area proportional to its
// value. Rows grow while that improves their worst aspect ratio.
export function squarify(items, x, y, w, h) {
  const total = items.reduce((t, i) => t + i.value, 0);
  const out = [];
  if (!(total > 0) || w <= 0 || h <= 0) return out;
  const scale = (w * h) / total;
  const areas = items.map((i) => i.value * scale);
  let row = [], start = 0;
  const place = () => {
    const sum = row.reduce((t, a) => t + a, 0);
    if (w >= h) { // a column at the left
      const cw = sum / h;
      let cy = y;
      row.forEach((a, k) => { out.push({ item: items[start + k], x, y: cy, w: cw, h: a / cw }); cy += a / cw; });
      x += cw; w -= cw;
    } else { // a row at the top
      const rh = sum / w;
      let cx = x;
      row.forEach((a, k) => { out.push({ item: items[start + k], x: cx, y, w: a / rh, h: rh }); cx += a / rh; });
      y += rh; h -= rh;
    }
    start += row.length;
    row = [];
  };
  for (const a of areas) {
    const side = Math.min(w, h);
    if (row.length && worst([...row, a], side) > worst(row, side)) place();
    row.push(a);
  }
  if (row.length) place();
  return out;
}

// ---- the drawing ---------------------------------------------------------------

const HEADER = 16;

// Text cut to what fits `width` pixels at about 6.5 px a character.
function fit(text, width) {
  const n = Math.floor((width - 6) / 6.5);
  if (n < 3) return "";
  return text.length <= n ? text : text.slice(0, n - 1) + "…";
}

// The treemap of a sizes answer, `W` by `H` pixels (drawn for the width it
// gets, so that its labels stay readable on a phone): an <svg
// id="size-treemap"> whose group rects (rect.group, data-group, data-size)
// are focusable, and `info`, the line that says what the pointer or the
// focus is on.
export function treemap(sz, info, W, H) {
  const image = allocated(sz);
  const items = sz.groups.filter((g) => g.size > 0).map((g) => ({ value: g.size, group: g }));
  if (sz.unattributed > 0) items.push({ value: sz.unattributed, group: null });
  items.sort((a, b) => b.value - a.value);
  const total = items.reduce((t, i) => t + i.value, 0);
  const svg = s("svg", { id: "size-treemap", viewBox: `0 0 ${W} ${H}`, width: "100%", role: "group",
    "aria-label": "Treemap of the image's " + size(total) + " in memory, by group; the table below lists the same figures" });
  svg.style.maxWidth = W + "px";
  svg.style.display = "block";
  const say = (text) => { info.textContent = text; };
  for (const r of squarify(items, 0, 0, W, H)) {
    const g = r.item.group;
    const name = g ? g.name : "unattributed";
    const kind = g ? g.kind : "unattributed";
    const label = name + (g ? " (" + kind + ")" : "") + ": " + size(r.item.value) + ", " +
      r.item.value + " bytes, " + percent(r.item.value, image) + " of the image in memory";
    const box = s("g", {});
    const rect = s("rect", { class: "group", x: r.x, y: r.y, width: r.w, height: r.h,
      fill: KIND_COLOURS[kind] || KIND_COLOURS.unattributed, stroke: "#ffffff", "stroke-width": 2,
      tabindex: 0, role: "img", "aria-label": label, "data-group": name, "data-kind": kind, "data-size": r.item.value },
    s("title", {}, label));
    const show = () => { say(label); rect.setAttribute("stroke", "#1d1f21"); };
    const hide = () => { rect.setAttribute("stroke", "#ffffff"); };
    rect.addEventListener("mouseenter", show);
    rect.addEventListener("focus", show);
    rect.addEventListener("mouseleave", hide);
    rect.addEventListener("blur", hide);
    box.append(rect);
    const text = fit(name + " " + size(r.item.value), r.w);
    if (text && r.h >= HEADER) box.append(s("text", { x: r.x + 4, y: r.y + 12, "font-size": 11, fill: "#111111", "pointer-events": "none" }, text));
    // its symbols inside, under the header, where there is room
    if (g && r.w > 24 && r.h > HEADER + 12) {
      const inner = (g.symbols || []).filter((x) => x.size > 0).map((x) => ({ value: x.size, name: x.name, section: x.section }));
      if (g.other && g.other.size > 0) inner.push({ value: g.other.size, name: g.other.count + " smaller symbols" });
      const rest = g.size - inner.reduce((t, i) => t + i.value, 0);
      if (rest > 0) inner.push({ value: rest, name: "rest of " + name });
      inner.sort((a, b) => b.value - a.value);
      for (const q of squarify(inner, r.x + 2, r.y + HEADER, r.w - 4, r.h - HEADER - 2)) {
        const sl = q.item.name + (q.item.section ? " [" + q.item.section + "]" : "") + " in " + name + ": " +
          size(q.item.value) + ", " + q.item.value + " bytes";
        const sym = s("rect", { class: "symbol", x: q.x, y: q.y, width: q.w, height: q.h, fill: "#ffffff",
          "fill-opacity": 0.35, stroke: "#ffffff", "stroke-opacity": 0.8, "stroke-width": 0.5 }, s("title", {}, sl));
        sym.addEventListener("mouseenter", () => say(sl));
        box.append(sym);
        const st = q.h >= 13 ? fit(q.item.name, q.w) : "";
        if (st) box.append(s("text", { x: q.x + 3, y: q.y + 11, "font-size": 10, fill: "#111111", "pointer-events": "none" }, st));
      }
    }
    svg.append(box);
  }
  return svg;
}

// The table of the groups (every one, also those of 0 bytes), with each
// group's largest symbols in a disclosure: the treemap's figures as text.
function groupsTable(sz) {
  const image = allocated(sz);
  const groups = [...sz.groups].sort((a, b) => b.size - a.size);
  return h("table", { id: "size-groups" },
    h("caption", { class: "muted" }, "Groups of the image, largest first"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Group"), h("th", { scope: "col" }, "Kind"),
      h("th", { scope: "col" }, "Devices"), h("th", { scope: "col" }, "Size"), h("th", { scope: "col" }, "Bytes"),
      h("th", { scope: "col" }, "Share of memory"), h("th", { scope: "col" }, "Largest symbols"))),
    h("tbody", {}, groups.map((g) => h("tr", { dataset: { group: g.name } },
      rowHead(g.name, true), h("td", {}, g.kind),
      h("td", { class: "mono" }, (g.devices || []).join(", ") || "-"),
      h("td", {}, size(g.size)), h("td", { class: "bytes" }, String(g.size)), h("td", {}, percent(g.size, image)),
      h("td", {}, symbolsList(g)))),
    sz.unattributed > 0 ? h("tr", { dataset: { group: "unattributed" } },
      rowHead("unattributed"), h("td", {}, "-"), h("td", {}, "-"), h("td", {}, size(sz.unattributed)),
      h("td", { class: "bytes" }, String(sz.unattributed)), h("td", {}, percent(sz.unattributed, image)),
      h("td", { class: "muted" }, "bytes of the sections no module covers (alignment padding)")) : null));
}

function symbolsList(g) {
  const syms = g.symbols || [];
  if (!syms.length) return h("span", { class: "muted" }, "-");
  return h("details", {}, h("summary", {}, syms.length + (g.other && g.other.count ? " + " + g.other.count + " more" : "")),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Symbol"), h("th", { scope: "col" }, "Section"),
        h("th", { scope: "col" }, "Bytes"))),
      h("tbody", {}, syms.map((x) => h("tr", {}, h("td", { class: "mono" }, x.name), h("td", { class: "mono" }, x.section),
        h("td", {}, String(x.size)))),
      g.other && g.other.count ? h("tr", {}, h("td", { class: "muted" }, g.other.count + " smaller symbols"), h("td", {}, ""),
        h("td", {}, String(g.other.size))) : null)));
}

export function sectionsTable(sz) {
  const image = allocated(sz);
  return h("table", { id: "size-sections" },
    h("caption", { class: "muted" }, "Allocated sections of the image"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Section"), h("th", { scope: "col" }, "Size"),
      h("th", { scope: "col" }, "Bytes"), h("th", { scope: "col" }, "Share of memory"))),
    h("tbody", {}, sz.sections.map((x) => h("tr", { dataset: { section: x.name } },
      rowHead(x.name, true), h("td", {}, size(x.size)), h("td", { class: "bytes" }, String(x.size)),
      h("td", {}, percent(x.size, image))))));
}

function legend() {
  return h("p", { class: "muted", id: "size-legend" }, Object.entries(KIND_COLOURS).map(([kind, colour]) => {
    const sw = s("svg", { width: 12, height: 12, "aria-hidden": "true" }, s("rect", { width: 12, height: 12, fill: colour }));
    return h("span", {}, sw, " " + kind + "  ");
  }));
}

export async function sizePage(view, id) {
  view.append(h("h1", { id: "size-title" }, "Image size of build " + id),
    h("p", {}, h("a", { href: "#/builds/" + enc(id) }, "Build " + id), " · ",
      h("a", { href: "#/compare/" + enc(id) }, "Compare with the previous build")));
  const sz = await loadSizes(id);
  if (sz.unavailable) {
    view.append(h("p", { id: "size-unavailable", class: "empty", role: "status" },
      (sz.code === "no_image" ? "No size breakdown: " : "Sizes unavailable: ") + sz.unavailable));
    return;
  }
  const attributed = sz.groups.reduce((t, g) => t + g.size, 0);
  const info = h("p", { id: "size-info", class: "muted", "aria-live": "polite" },
    "Point at or focus (Tab) a group to see its size.");
  view.append(
    h("p", { id: "size-summary" }, h("span", { class: "mono" }, sz.image.name), ": a file of " + size(sz.image.size) +
      " (" + sz.image.size + " bytes), " + size(allocated(sz)) + " in memory (its allocated sections, .bss included) · " +
      sz.groups.length + " groups, " + size(attributed) + " attributed, " +
      size(sz.unattributed) + " unattributed"),
    legend());
  const width = Math.round(Math.min(960, Math.max(300, view.clientWidth || 960)));
  view.append(treemap(sz, info, width, Math.max(300, Math.round(width * 0.56))), info,
    h("h2", {}, "Groups"), scroller(groupsTable(sz)),
    h("h2", {}, "Sections"), scroller(sectionsTable(sz)));
}
