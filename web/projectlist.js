// The projects page (#/projects): each project with its sources and its
// latest build per target, a page at a time, kept up to date from GET
// /events (events.js) in place: a row per project, a cell per target,
// redrawn only when what it shows changed (focus and selection stay).
import { h, statusSpan, duration, enc, plural, call, getJSON, report, setHashParams, viewSignal, scroller } from "./lib.js";
import { followList } from "./events.js";
import { defaultTarget } from "./forms.js";
import { makePager, pageParams } from "./builds.js";


function sourcesText(p) {
  return p.repo ? p.repo.url + (p.repo.ref ? " @ " + p.repo.ref : "")
    : p.sources ? "inline, " + plural(p.sources.files, "file") : "-";
}

function latestSig(b) {
  return b ? [b.id, b.status, b.finished_at, b.duration_ms, b.reused_from].join("|") : "";
}

function latestCell(b) {
  return b ? [
    h("a", { href: "#/builds/" + b.id }, statusSpan(b.status)), " ",
    h("span", { class: "muted" }, "#" + b.id,
      b.reused_from ? " (reused #" + b.reused_from + ")" : "",
      b.duration_ms !== null ? " · " + duration(b.duration_ms) : ""),
  ] : [h("span", { class: "muted" }, "never built")];
}

export async function projectsPage(view, params = new URLSearchParams()) {
  const signal = viewSignal();
  view.append(h("h1", {}, "Projects"));
  const holder = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  let { page, perPage } = pageParams(params);
  const note = h("span", { id: "projects-live", class: "live muted", role: "status" });
  const pager = makePager("projects", "projects", {
    hrefFor: (p, pp) => "#/projects?" + new URLSearchParams({ page: p, per_page: pp }),
    go: (p, pp) => {
      page = p;
      perPage = pp;
      setHashParams({ page: page > 1 ? page : "", per_page: perPage !== 50 ? perPage : "" }, { push: true });
      load().catch(report);
    },
  });
  view.append(h("div", { class: "row list-head" }, pager.el, note), holder);

  let targets = []; // the columns
  let table = null;
  let tbody = null;
  const rows = new Map(); // project id -> {tr, name, sources, latest: {target: {td, sig, b}}}
  let total = 0;

  function drawRow(row, p) {
    row.tr.dataset.project = p.name;
    if (row.name.textContent !== p.name || !row.name.firstChild) {
      row.name.replaceChildren(h("a", { class: "project-link", href: "#/projects/" + enc(p.name) }, p.name));
    }
    const src = sourcesText(p);
    if (row.sources.textContent !== src) row.sources.textContent = src;
  }
  function setLatest(row, target, b) {
    const cell = row.latest[target];
    if (!cell) return false;
    const sig = latestSig(b);
    if (cell.sig === sig) return true;
    cell.sig = sig;
    cell.b = b;
    cell.td.replaceChildren(...latestCell(b));
    return true;
  }
  function newRow(p) {
    const row = { tr: null, name: h("td", {}), sources: h("td", { class: "muted" }), latest: {} };
    for (const t of targets) row.latest[t] = { td: h("td", { class: "latest", dataset: { target: t } }), sig: null, b: null };
    row.tr = h("tr", {}, row.name, row.sources, targets.map((t) => row.latest[t].td));
    drawRow(row, p);
    for (const t of targets) setLatest(row, t, (p.latest_builds || {})[t]);
    return row;
  }

  async function load() {
    const res = await call("GET", "/projects?page=" + page + "&per_page=" + perPage, { signal });
    const list = await res.json();
    total = Number(res.headers.get("X-Total-Count")) || 0;
    if (!list.length && page > 1 && total) {
      page = Math.max(1, Math.ceil(total / perPage));
      setHashParams({ page: page > 1 ? page : "", per_page: perPage !== 50 ? perPage : "" });
      return load();
    }
    const full = await Promise.all(list.map((p) => getJSON("/projects/" + p.id, { signal })));
    let want = [...new Set(full.flatMap((p) => Object.keys(p.latest_builds || {})))].sort();
    if (!want.length) want = [await defaultTarget()];
    if (!table || want.join() !== targets.join()) {
      // other columns (a first build on another target): a new table, rarely
      targets = want;
      rows.clear();
      tbody = h("tbody", {});
      table = h("table", { id: "projects" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Project"), h("th", { scope: "col" }, "Sources"),
          targets.map((t) => h("th", { scope: "col" }, "Latest " + t + " build")))), tbody);
    }
    const ids = new Set(full.map((p) => p.id));
    for (const [pid, row] of [...rows]) if (!ids.has(pid)) { row.tr.remove(); rows.delete(pid); }
    let prev = null;
    for (const p of full) {
      let row = rows.get(p.id);
      if (row) {
        drawRow(row, p);
        for (const t of targets) setLatest(row, t, (p.latest_builds || {})[t]);
      } else {
        row = newRow(p);
        rows.set(p.id, row);
      }
      const there = prev ? prev.nextSibling : tbody.firstChild;
      if (there !== row.tr) tbody.insertBefore(row.tr, there);
      prev = row.tr;
    }
    if (!total) {
      holder.replaceChildren(h("p", { class: "empty" }, "No projects yet: create one with mgctl project create or POST /projects."));
    } else if (!holder.contains(table)) {
      holder.replaceChildren(scroller(table));
    }
    pager.update(page, perPage, rows.size, total);
  }

  function onBuild(b) {
    const row = rows.get(b.project.id);
    if (!row) return;
    const cell = row.latest[b.target];
    if (!cell) {
      live.reloadSoon(); // a target without a column yet
      return;
    }
    if (!cell.b || b.id >= cell.b.id) setLatest(row, b.target, b);
  }

  const live = followList(signal, {
    load,
    note,
    build: onBuild,
    project(p) {
      const row = rows.get(p.id);
      if (row) drawRow(row, p);
      else live.reloadSoon(); // a new project: the daemon knows which page it is on
    },
    projectDeleted(d) {
      if (rows.has(d.id)) live.reloadSoon();
    },
  });
  await live.shown;
}
