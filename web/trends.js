// A project's trends (#/projects/NAME/trends): over its last N builds (n in
// the URL, 200 unless chosen), per target and arch, the build duration and
// the image size over time as small SVG line charts, and the success rate.
// Each chart has a table of the same figures beside it.
import { h, duration, size, enc, call, getJSON, report, setHashParams, viewSignal, scroller } from "./lib.js";
import { s } from "./treemap.js";

const CHOICES = [50, 100, 200, 500];

// The newest `n` builds of a project (the API lists newest first, 100 a page).
async function lastBuilds(project, n) {
  const out = [];
  for (let page = 1; out.length < n; page++) {
    const res = await call("GET", "/projects/" + project.id + "/builds?per_page=100&page=" + page);
    const got = await res.json();
    out.push(...got);
    if (!got.length || !(out.length < Number(res.headers.get("X-Total-Count")))) break;
  }
  return out.slice(0, n);
}

// A round step for about `count` ticks up to `max`, round in units of
// `base` (1024 for bytes shown in KiB, 1000 for milliseconds shown in s).
function niceStep(max, count, base) {
  if (base > 1 && max >= base) return base * niceStep(max / base, count, 1);
  const raw = max / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

const pad2 = (x) => String(x).padStart(2, "0");
function timeLabel(t, span) {
  const d = new Date(t);
  const hm = pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  if (span < 3600e3) return hm + ":" + pad2(d.getSeconds());
  if (span < 86400e3) return hm;
  return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate());
}

const W = 640, HT = 220, L = 72, R = 16, T = 14, B = 42;

// A line chart of points {t (ms), v, build}, oldest first: axes with ticks
// and labels, each point a circle.point (data-build) with its figures in a
// <title>. `fmt` writes a value for the axis and the titles.
export function lineChart(id, what, points, fmt, base) {
  const svg = s("svg", { id, class: "trend-chart", viewBox: `0 0 ${W} ${HT}`, width: "100%", role: "img",
    "aria-label": what + ": " + points.length + " builds; the table after the charts lists the same figures" });
  svg.style.maxWidth = W + "px";
  svg.style.display = "block";
  const axis = { stroke: "currentColor", "stroke-width": 1 };
  const label = (x, y, text, anchor) => s("text", { x, y, "font-size": 12, fill: "currentColor", "text-anchor": anchor || "middle" }, text);
  if (!points.length) {
    svg.append(label(W / 2, HT / 2, "no builds to show"));
    return svg;
  }
  let t0 = points[0].t, t1 = points[points.length - 1].t;
  if (t1 - t0 < 1000) { t0 -= 30e3; t1 += 30e3; }
  const vmax = Math.max(...points.map((p) => p.v)) || 1;
  const step = niceStep(vmax, 4, base);
  const top = step * Math.ceil(vmax / step);
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  const y = (v) => HT - B - (HT - B - T) * v / top;
  svg.append(s("line", { x1: L, y1: HT - B, x2: W - R, y2: HT - B, ...axis }), s("line", { x1: L, y1: T, x2: L, y2: HT - B, ...axis }));
  for (let v = 0; v <= top + step / 2; v += step) {
    svg.append(s("line", { x1: L - 4, y1: y(v), x2: W - R, y2: y(v), stroke: "currentColor", "stroke-opacity": v ? 0.15 : 0 }),
      label(L - 6, y(v) + 4, fmt(v), "end"));
  }
  for (const t of [t0, (t0 + t1) / 2, t1]) {
    svg.append(s("line", { x1: x(t), y1: HT - B, x2: x(t), y2: HT - B + 4, ...axis }),
      label(x(t), HT - B + 16, timeLabel(t, t1 - t0), t === t0 ? "start" : t === t1 ? "end" : "middle"));
  }
  svg.append(label((L + W - R) / 2, HT - 6, "time the build was created"),
    s("text", { x: 12, y: (T + HT - B) / 2, "font-size": 12, fill: "currentColor", "text-anchor": "middle",
      transform: `rotate(-90 12 ${(T + HT - B) / 2})` }, what));
  svg.append(s("polyline", { points: points.map((p) => x(p.t).toFixed(1) + "," + y(p.v).toFixed(1)).join(" "),
    fill: "none", stroke: "#2f6fd6", "stroke-width": 1.5 }));
  for (const p of points) {
    svg.append(s("circle", { class: "point", cx: x(p.t), cy: y(p.v), r: 3, fill: "#2f6fd6", "data-build": p.build },
      s("title", {}, "#" + p.build + " · " + new Date(p.t).toISOString() + " · " + fmt(p.v))));
  }
  return svg;
}

// What the success rate counts, for one target and arch: builds that ran and
// finished (succeeded, failed, interrupted); reused builds (they ran
// nothing), cancelled ones and unfinished ones are counted apart.
export function tally(builds) {
  const c = { succeeded: 0, failed: 0, interrupted: 0, cancelled: 0, reused: 0, unfinished: 0 };
  for (const b of builds) {
    if (b.reused_from) c.reused++;
    else if (b.status in c) c[b.status]++;
    else c.unfinished++;
  }
  c.finished = c.succeeded + c.failed + c.interrupted;
  return c;
}

function rateLine(c) {
  const rate = c.finished ? Math.round(100 * c.succeeded / c.finished) + " %" : "no finished builds";
  return h("p", { class: "trend-rate", dataset: { succeeded: c.succeeded, finished: c.finished, failed: c.failed,
    interrupted: c.interrupted, cancelled: c.cancelled, reused: c.reused, unfinished: c.unfinished } },
  h("strong", {}, "Success rate " + rate), c.finished ? ": " + c.succeeded + " succeeded of " + c.finished +
    " finished (" + c.failed + " failed, " + c.interrupted + " interrupted)." : ".",
  " Not counted: " + c.reused + " reused an earlier image (ran nothing), " + c.cancelled + " cancelled, " +
    c.unfinished + " queued or running.");
}

function section(target, arch, builds) {
  const ran = builds.filter((b) => b.status === "succeeded" && !b.reused_from).reverse();
  const pts = (f) => ran.map((b) => ({ t: Date.parse(b.created_at), v: f(b), build: b.id }));
  const slug = (target + "-" + arch).replace(/[^A-Za-z0-9_-]/g, "_");
  return h("section", { class: "trend", dataset: { target, arch } },
    h("h2", {}, target + " / " + arch),
    rateLine(tally(builds)),
    h("p", { class: "muted" }, "The charts show the " + ran.length + " succeeded builds that ran (reused builds are left out)."),
    h("div", { class: "grid2" },
      h("figure", {}, lineChart("trend-duration-" + slug, "duration", pts((b) => b.duration_ms), duration, 1000),
        h("figcaption", { class: "muted" }, "Build duration")),
      h("figure", {}, lineChart("trend-size-" + slug, "image size", pts((b) => b.image.size), size, 1024),
        h("figcaption", { class: "muted" }, "Image size"))),
    h("details", {}, h("summary", {}, "The figures as a table"),
      scroller(h("table", { class: "trend-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Build"), h("th", { scope: "col" }, "Created"),
          h("th", { scope: "col" }, "Duration"), h("th", { scope: "col" }, "Image bytes"))),
        h("tbody", {}, [...ran].reverse().map((b) => h("tr", {}, h("th", { scope: "row" }, h("a", { href: "#/builds/" + b.id }, "#" + b.id)),
          h("td", {}, b.created_at), h("td", {}, duration(b.duration_ms)), h("td", {}, String(b.image.size)))))))));
}

export async function trendsPage(view, name, params) {
  const signal = viewSignal();
  const p = await getJSON("/projects/" + enc(name));
  let n = Number(params.get("n")) || 200;
  n = Math.min(Math.max(n, 1), 1000);
  const choose = h("select", { id: "trends-n" }, [...new Set([...CHOICES, n])].sort((a, b) => a - b)
    .map((c) => h("option", { value: c, selected: c === n }, "last " + c + " builds")));
  const body = h("div", { id: "trends" }, h("p", { class: "empty" }, "Loading…"));
  view.append(h("h1", { id: "trends-title" }, "Trends of ", h("a", { href: "#/projects/" + enc(p.name) }, p.name)),
    h("div", { class: "row" }, h("div", { class: "field" }, h("label", { for: "trends-n" }, "builds looked at"), choose)), body);
  async function load() {
    const builds = await lastBuilds(p, n);
    if (signal.aborted) return;
    const groups = new Map();
    for (const b of builds) {
      const k = b.target + "/" + b.arch;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(b);
    }
    const keys = [...groups.keys()].sort();
    body.replaceChildren(h("p", { id: "trends-count", class: "muted" }, builds.length + " builds, " +
      (builds.length ? "from " + builds[builds.length - 1].created_at + " to " + builds[0].created_at : "none yet") + "."),
    ...keys.map((k) => section(groups.get(k)[0].target, groups.get(k)[0].arch, groups.get(k))));
  }
  choose.addEventListener("change", () => {
    n = Number(choose.value);
    setHashParams({ n: n === 200 ? "" : n }, { push: true });
    body.replaceChildren(h("p", { class: "empty" }, "Loading…"));
    load().catch(report);
  });
  await load();
}
