// Lists of builds: a project's builds, every project's builds (#/builds)
// and the queue (#/queue). One list per page: filters and page in the URL
// (setHashParams: Back, reload and a shared link show the same list), a
// pager with the total, and live updates from GET /events (events.js), with
// polling only while that stream is down. Rows are keyed by build id and
// updated in place, cell by cell, so that a focused link or a selected
// hash survives an update; the table itself is never rebuilt.
import {
  STATUSES, h, statusSpan, ago, duration, enc, call, getJSON, getAll, report, sleep,
  hashParams, setHashParams, requireScope, viewSignal, clearBanners, scroller,
} from "./lib.js";
import { followList } from "./events.js";

export const PER_PAGE_CHOICES = [10, 20, 50, 100];
const DEFAULT_PER_PAGE = 50;
// The filters of GET /builds and GET /projects/:id/builds (docs/api.md).
const FILTER_KEYS = ["status", "target", "arch", "project", "reused", "config_version", "q"];


// ---- pieces shared with the projects list -----------------------------------

// `page`, `per_page` of the hash's query, checked (the API takes 1 to 100).
export function pageParams(params, defaultPerPage = DEFAULT_PER_PAGE) {
  const page = Math.max(1, Math.floor(Number(params.get("page"))) || 1);
  let perPage = Math.floor(Number(params.get("per_page"))) || defaultPerPage;
  perPage = Math.min(100, Math.max(1, perPage));
  return { page, perPage };
}

// "builds 51–100 of 312": what the page shows out of how many.
export function rangeText(noun, page, perPage, shown, total) {
  if (!total) return "no " + noun;
  const from = (page - 1) * perPage + 1;
  if (!shown) return noun + " · page " + page + " is past the last (" + total + " in all)";
  return noun + " " + from + "–" + (from + shown - 1) + " of " + total;
}

// The pages around `page` out of `pages`: 1 … p-2 p-1 p p+1 p+2 … last.
function pageWindow(page, pages) {
  const out = [];
  for (let i = 1; i <= pages; i++) {
    if (i === 1 || i === pages || Math.abs(i - page) <= 2) out.push(i);
    else if (out[out.length - 1] !== "…") out.push("…");
  }
  return out;
}

// A pager: a <nav> with the range, prev/next and page numbers, and the
// per-page choice. hrefFor(page, perPage) is the link (for a new tab);
// go(page, perPage) changes the page in place. update() redraws it only
// when what it says changed, and gives the focus back to the link that
// stands where the focused one stood.
export function makePager(id, noun, { hrefFor, go }) {
  const summary = h("span", { id: id + "-summary", class: "pager-summary" });
  const links = h("span", { class: "pager-pages" });
  const sel = h("select", { id: id + "-per-page" });
  const nav = h("nav", { id: id + "-pager", class: "pager", "aria-label": noun + " pages" },
    summary, links,
    h("span", { class: "field-inline" }, h("label", { for: id + "-per-page" }, "per page"), sel));
  let last = "";
  let cur = { page: 1, perPage: DEFAULT_PER_PAGE };
  sel.addEventListener("change", () => go(1, Number(sel.value)));
  function link(text, page, rel, label) {
    return h("a", { href: hrefFor(page, cur.perPage), rel, dataset: { page: String(page), rel: rel || "" },
      "aria-label": label, onclick: (ev) => {
        if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button) return;
        ev.preventDefault();
        go(page, cur.perPage);
      } }, text);
  }
  function update(page, perPage, shown, total) {
    cur = { page, perPage };
    const sig = [page, perPage, shown, total].join("/");
    if (sig === last) return;
    last = sig;
    summary.textContent = rangeText(noun, page, perPage, shown, total);
    if (String(perPage) !== sel.value) {
      const choices = [...new Set([...PER_PAGE_CHOICES, perPage])].sort((a, b) => a - b);
      sel.replaceChildren(...choices.map((n) => h("option", { value: n, selected: n === perPage }, String(n))));
      sel.value = String(perPage);
    }
    const pages = Math.max(1, Math.ceil(total / perPage));
    const focused = links.contains(document.activeElement) ? document.activeElement.dataset : null;
    links.replaceChildren(
      page > 1 ? link("‹ Prev", page - 1, "prev", null) : h("span", { class: "muted" }, "‹ Prev"),
      ...pageWindow(page, pages).map((p) => p === "…" ? h("span", { class: "muted" }, "…")
        : p === page ? h("span", { class: "current", "aria-current": "page" }, String(p))
          : link(String(p), p, null, "page " + p)),
      page < pages ? link("Next ›", page + 1, "next", null) : h("span", { class: "muted" }, "Next ›"));
    nav.hidden = total === 0;
    if (focused) {
      const again = links.querySelector(focused.rel ? `a[data-rel="${focused.rel}"]` : `a[data-page="${focused.page}"]`)
        || links.querySelector("a");
      if (again) again.focus();
    }
  }
  return { el: nav, update };
}

// A labelled control for the filter row.
function field(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

// "just now", "5 min ago" that stay true: the list's ticker redraws them.
function agoSpan(at) {
  return at ? h("span", { class: "ago", title: at, dataset: { at } }, ago(at)) : "-";
}

// "3 s", "2 min 05 s", "1 h 02 min": how long a running build has run, in
// whole seconds (started_at has no finer ones).
export function elapsed(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
  return Math.floor(s / 3600) + " h " + String(Math.floor(s / 60) % 60).padStart(2, "0") + " min";
}

function elapsedText(since) {
  return elapsed(Date.now() - Date.parse(since)) + " so far";
}

// ---- the cells of a build's row ------------------------------------------

// Each column: sig(b) says what the cell shows; the cell is redrawn only
// when that changes.
function columns({ withProject, cancel, configHref }) {
  const cols = [
    { head: "Build", cls: "build-id",
      sig: (b) => [b.id, b.reused_from, (b.reproduced_by || []).join(","), (b.reproduces || []).join(","),
        (b.differs_from || []).join(","), b.pinned].join("|"),
      draw: (b) => [
        h("a", { href: "#/builds/" + b.id }, "#" + b.id),
        b.reused_from ? [" ", h("a", { class: "badge badge-reused", href: "#/builds/" + b.reused_from,
          title: "reused the image of build " + b.reused_from + ": nothing was built" }, "reused #" + b.reused_from)] : null,
        (b.reproduced_by || []).length ? [" ", h("span", { class: "badge badge-reproduced",
          title: "reproduced by build " + b.reproduced_by.map((x) => "#" + x).join(", ") + ": same image bytes" }, "reproduced")] : null,
        // the newest build it reproduces links to it (its page names them all)
        (b.reproduces || []).length ? [" ", h("a", { class: "badge badge-reproduces", href: "#/builds/" + b.reproduces[0],
          title: "reproduces build " + b.reproduces.map((x) => "#" + x).join(", ") + ": ran every action and made the same image bytes" },
        "reproduces #" + b.reproduces[0] + (b.reproduces.length > 1 ? " +" + (b.reproduces.length - 1) : ""))] : null,
        (b.differs_from || []).length ? [" ", h("span", { class: "badge badge-differs",
          title: "differs from build " + b.differs_from.map((x) => "#" + x).join(", ") + ": other image bytes from the same inputs" }, "differs")] : null,
        b.pinned ? [" ", h("span", { class: "badge", title: "pinned: gc keeps it" }, "pinned")] : null,
      ] },
    withProject && { head: "Project", cls: "project",
      sig: (b) => b.project.name,
      draw: (b) => h("a", { href: "#/projects/" + enc(b.project.name) }, b.project.name) },
    { head: "Status", cls: "status-cell",
      sig: (b) => [b.status, b.queue_position, JSON.stringify(b.progress)].join("|"),
      draw: (b) => [statusSpan(b.status), progressText(b)] },
    { head: "Target", cls: "target", sig: (b) => b.target + "/" + b.arch, draw: (b) => b.target + "/" + b.arch },
    { head: "Config", cls: "config-version", sig: (b) => String(b.config_version),
      draw: (b) => !b.config_version ? "-" : configHref
        ? h("a", { href: configHref(b), title: "the builds of config version " + b.config_version }, "v" + b.config_version)
        : h("span", { title: "config version " + b.config_version }, "v" + b.config_version) },
    { head: "Keys", cls: "mono keys", sig: keysText, draw: keysText },
    { head: "Created", cls: "created", sig: (b) => b.created_at || "", draw: (b) => agoSpan(b.created_at) },
    { head: "Duration", cls: "duration", sig: (b) => [b.status, b.started_at, b.duration_ms].join("|"),
      draw: (b) => b.status === "running" && b.started_at
        ? h("span", { class: "elapsed", dataset: { since: b.started_at }, title: "started " + b.started_at }, elapsedText(b.started_at))
        : duration(b.duration_ms) },
    { head: "Image", cls: "mono image", sig: (b) => b.image ? b.image.sha256 : "",
      draw: (b) => b.image ? h("span", { title: b.image.sha256 }, b.image.sha256.slice(0, 12)) : "-" },
    // the same Cancel for queued and running: a build that starts keeps it (and its focus)
    cancel && { head: "Action", cls: "action", sig: (b) => (b.status === "queued" || b.status === "running" ? "cancel" : "-"),
      draw: (b) => (b.status === "queued" || b.status === "running") ? cancel(b) : "-" },
  ];
  return cols.filter(Boolean);
}

// The focus of a redrawn cell, given to what stands where the focused
// element stood: the link to the same place, the same button, else the
// cell's first link or button (as makePager does).
function refocus(td, was) {
  const same = [...td.querySelectorAll("a, button")].find((el) => el.tagName === was.tagName &&
    el.getAttribute("href") === was.getAttribute("href") && el.className === was.className);
  const again = same || td.querySelector("a[href], button:not([disabled])");
  if (again) again.focus();
}

function keysText(b) {
  return Object.entries(b.keys || {}).map(([k, v]) => k + "=" + v).join(" ") || "-";
}

// What a queued or running build is doing: its place in the queue, or the
// phase and the steps running now (progress, docs/api.md).
function progressText(b) {
  if (b.status === "queued" && b.queue_position) {
    return h("span", { class: "progress muted" }, " · " + ordinal(b.queue_position) + " in queue");
  }
  if (b.status === "running" && b.progress) {
    const steps = b.progress.steps || [];
    const what = steps.length ? steps.join(", ") : b.progress.phase === "sources" ? "fetching sources"
      : b.progress.phase === "resolve" ? "resolving the config" : b.progress.phase;
    return h("span", { class: "progress muted" }, " · " + what);
  }
  return null;
}

function ordinal(n) {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] || "th";
  return n + s;
}

// ---- a list of builds ---------------------------------------------------------

let targetsCache = null;
async function allTargets() {
  if (!targetsCache) targetsCache = await getJSON("/targets");
  return targetsCache;
}

function select(id, options, value) {
  const s = h("select", { id }, options.map(([v, text]) => h("option", { value: v }, text)));
  if (value && !options.some(([v]) => v === value)) s.append(h("option", { value }, value));
  s.value = value || "";
  return s;
}

// Mounts a list of builds into `container` and answers once it shows the
// first page. opts:
//   id         the table's id ("builds", "queue")
//   project    {id, name}: that project's builds only (no project column)
//   params     URLSearchParams of the hash (filters, page, per_page)
//   queue      the queue: queued and running builds, with a Cancel button
export async function mountBuildsList(container, { id = "builds", project = null, params = new URLSearchParams(), queue = false } = {}) {
  const signal = viewSignal();
  const withProject = !project;
  const noun = queue ? "queued or running builds" : "builds";
  const f = {};
  for (const k of FILTER_KEYS) if (params.get(k)) f[k] = params.get(k);
  if (project) delete f.project;
  if (queue && !["queued", "running"].includes(f.status)) f.status = "queued,running";
  let { page, perPage } = pageParams(params);

  // -- filters
  const targets = await allTargets();
  const arches = [...new Set(targets.flatMap((t) => t.arches.map((a) => a.name)))].sort();
  const controls = {};
  controls.status = queue
    ? select("filter-status", [["queued,running", "queued or running"], ["queued", "queued"], ["running", "running"]], f.status)
    : select("filter-status", [["", "any status"], ...STATUSES.map((s) => [s, s])], f.status);
  controls.target = select("filter-target", [["", "any target"], ...targets.map((t) => [t.name, t.name])], f.target);
  controls.arch = select("filter-arch", [["", "any arch"], ...arches.map((a) => [a, a])], f.arch);
  if (withProject) {
    const projects = await getAll("/projects");
    controls.project = select("filter-project", [["", "any project"], ...projects.map((p) => [p.name, p.name])], f.project);
  }
  if (!queue) {
    controls.reused = select("filter-reused", [["", "reused or not"], ["false", "not reused"], ["true", "reused only"]], f.reused);
  }
  if (project) {
    controls.config_version = h("input", { id: "filter-config-version", type: "number", min: 1, value: f.config_version || "",
      placeholder: "any", class: "narrow" });
  }
  controls.q = h("input", { id: "filter-q", type: "search", value: f.q || "", placeholder: "id, commit, ref, key=value",
    spellcheck: "false" });
  const labels = { status: "status", target: "target", arch: "arch", project: "project", reused: "reused",
    config_version: "config version", q: "search" };
  const form = h("form", { class: "row filters", role: "search", "aria-label": "filter " + noun },
    Object.entries(controls).map(([k, c]) => field(c.id, labels[k], c)),
    h("button", { type: "submit", class: "plain" }, "Search"));
  const note = h("span", { id: id + "-live", class: "live muted", role: "status" });
  const pager = makePager(id, noun, {
    hrefFor: (p, pp) => hrefWith({ page: p, per_page: pp }),
    go: (p, pp) => { page = p; perPage = pp; saveUrl(true); load().catch(report); },
  });
  const empty = h("tr", { class: "empty-row" }, h("td", { class: "empty", colspan: 20 }));
  const tbody = h("tbody", {});
  const cols = columns({ withProject, cancel: queue && cancelButton,
    configHref: project && ((b) => hrefWith({ config_version: b.config_version, page: 1 })) });
  const table = h("table", { id },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c.head)))), tbody);
  container.append(form, h("div", { class: "row list-head" }, pager.el, note), scroller(table));

  function apiQuery() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    q.set("page", page);
    q.set("per_page", perPage);
    return q;
  }
  // The hash's query with this list's part replaced; the rest (the other
  // parts of the page: a project's config version) is kept.
  function urlParams(over = {}) {
    const q = {};
    for (const [k, v] of hashParams()) if (!FILTER_KEYS.includes(k) && k !== "page" && k !== "per_page") q[k] = v;
    Object.assign(q, f);
    if (queue && q.status === "queued,running") delete q.status;
    q.page = page > 1 ? page : "";
    q.per_page = perPage !== DEFAULT_PER_PAGE ? perPage : "";
    Object.assign(q, over);
    if (q.page === 1) q.page = "";
    if (q.per_page === DEFAULT_PER_PAGE) q.per_page = "";
    return q;
  }
  function hrefWith(over) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(urlParams(over))) if (v !== "" && v !== undefined) q.set(k, v);
    const path = location.hash.split("?")[0] || "#/builds";
    return path + (q.toString() ? "?" + q : "");
  }
  function saveUrl(push) { setHashParams(urlParams(), { push }); }

  function applyFilters() {
    for (const [k, c] of Object.entries(controls)) {
      const v = c.value.trim();
      if (v) f[k] = v;
      else delete f[k];
    }
    page = 1;
    saveUrl(true);
    load().catch(report);
  }
  for (const [k, c] of Object.entries(controls)) if (k !== "q") c.addEventListener("change", applyFilters);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); applyFilters(); });

  // -- rows
  const rows = new Map(); // id -> {tr, cells: [{td, sig}], b}
  let total = 0;
  const eventSeen = new Map(); // id -> {b, at}: newer than a list asked for before `at`

  function drawRow(row, b) {
    row.b = b;
    row.tr.classList.toggle("reused", !!b.reused_from);
    row.tr.dataset.status = b.status;
    cols.forEach((c, i) => {
      const sig = c.sig(b);
      const cell = row.cells[i];
      if (cell.sig === sig) return;
      cell.sig = sig;
      const focused = cell.td.contains(document.activeElement) ? document.activeElement : null;
      cell.td.replaceChildren(...[c.draw(b)].flat(3).filter((x) => x !== null && x !== undefined && x !== false));
      if (focused) refocus(cell.td, focused);
    });
  }
  function newRow(b) {
    const cells = cols.map((c) => ({ td: h("td", { class: c.cls }), sig: null }));
    const row = { tr: h("tr", { dataset: { build: b.id } }, cells.map((c) => c.td)), cells, b: null };
    drawRow(row, b);
    rows.set(b.id, row);
    return row;
  }
  function dropRow(bid) {
    const row = rows.get(bid);
    if (!row) return;
    row.tr.remove();
    rows.delete(bid);
  }
  function showEmpty() {
    if (rows.size) {
      empty.remove();
      return;
    }
    const filtered = Object.keys(f).some((k) => !(queue && k === "status"));
    empty.firstChild.textContent = queue ? (filtered ? "Nothing queued or running matches." : "Nothing queued or running.")
      : filtered ? "No builds match." : page > 1 ? "No builds on this page." : "No builds yet.";
    tbody.append(empty);
  }
  function redrawPager() { pager.update(page, perPage, rows.size, total); }

  // Puts `list` (one page, newest first) into the table, moving only the
  // rows that are out of place.
  function render(list, askedAt) {
    const want = list.map((b) => {
      const seen = eventSeen.get(b.id);
      return seen && seen.at > askedAt ? seen.b : b;
    });
    // builds created while the list was asked for: their events came first
    if (page === 1) {
      const newer = [...eventSeen.values()].filter((s) => s.at > askedAt && rows.has(s.b.id)
        && s.b.id > (want.length ? want[0].id : 0) && matches(s.b) === true).map((s) => s.b);
      want.unshift(...newer.sort((a, b) => b.id - a.id));
      want.splice(perPage);
      total += newer.length; // the answer's total did not count them either
    }
    const ids = new Set(want.map((b) => b.id));
    for (const bid of [...rows.keys()]) if (!ids.has(bid)) dropRow(bid);
    let prev = null;
    for (const b of want) {
      let row = rows.get(b.id);
      if (row) drawRow(row, b);
      else row = newRow(b);
      const there = prev ? prev.nextSibling : tbody.firstChild;
      if (there !== row.tr) tbody.insertBefore(row.tr, there);
      prev = row.tr;
    }
    showEmpty();
    redrawPager();
  }

  let loadSeq = 0;
  async function load() {
    const seq = ++loadSeq;
    const askedAt = performance.now();
    const base = project ? "/projects/" + enc(project.name) + "/builds" : "/builds";
    const res = await call("GET", base + "?" + apiQuery(), { signal });
    const list = await res.json();
    if (seq !== loadSeq) return; // a newer load is under way
    total = Number(res.headers.get("X-Total-Count")) || 0;
    const last = Math.max(1, Math.ceil(total / perPage));
    if (!list.length && page > last) {
      // past the end (builds went away, or a stale link): the last page
      page = last;
      saveUrl(false);
      return load();
    }
    for (const [bid, s] of eventSeen) if (askedAt - s.at > 60000) eventSeen.delete(bid);
    render(list, askedAt);
  }

  // Whether a build belongs in this list: true, false, or null when only
  // the daemon can tell (a search).
  function matches(b) {
    if (project && b.project.id !== project.id) return false;
    if (f.project && b.project.name !== f.project && String(b.project.id) !== f.project) return false;
    if (f.status && !f.status.split(",").includes(b.status)) return false;
    if (f.target && b.target !== f.target) return false;
    if (f.arch && b.arch !== f.arch) return false;
    if (f.reused === "true" && !b.reused_from) return false;
    if (f.reused === "false" && b.reused_from) return false;
    if (f.config_version && String(b.config_version) !== f.config_version) return false;
    if (f.q) return null;
    return true;
  }

  function onBuild(b) {
    eventSeen.set(b.id, { b, at: performance.now() });
    const m = matches(b);
    const row = rows.get(b.id);
    if (row) {
      if (m === false) {
        dropRow(b.id);
        total = Math.max(0, total - 1);
        showEmpty();
        redrawPager();
        // the next page's first build moves up into this one
        if (total > (page - 1) * perPage + rows.size) live.reloadSoon();
      } else {
        drawRow(row, b);
      }
      return;
    }
    if (m === false) return;
    const first = tbody.firstElementChild;
    const top = first && first.dataset.build ? Number(first.dataset.build) : 0;
    if (m === true && page === 1 && b.id > top) {
      // a new build on the first page: at the top, the oldest one goes to page 2
      tbody.insertBefore(newRow(b).tr, tbody.firstChild);
      total++;
      if (rows.size > perPage) dropRow(Number([...tbody.querySelectorAll("tr[data-build]")].pop().dataset.build));
      showEmpty();
      redrawPager();
      return;
    }
    live.reloadSoon(); // somewhere else in the list: the daemon knows where
  }

  function cancelButton(b) {
    const btn = h("button", { type: "button", class: "plain cancel", dataset: { cancel: b.id },
      "aria-label": "cancel build " + b.id }, "Cancel");
    requireScope(btn, "write").catch(() => {});
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      clearBanners();
      try {
        onBuild(await (await call("POST", "/builds/" + b.id + "/cancel")).json());
      } catch (e) {
        btn.disabled = false;
        report(e);
      }
    });
    return btn;
  }

  // -- live: events while the stream is up, polling while it is down
  const live = followList(signal, { load, note, build: onBuild });

  // -- time that passes: elapsed times and "5 s ago"
  (async () => {
    let n = 0;
    while (!signal.aborted) {
      try { await sleep(1000, signal); } catch (_) { return; }
      for (const el of tbody.querySelectorAll(".elapsed")) {
        const t = elapsedText(el.dataset.since);
        if (el.textContent !== t) el.textContent = t;
      }
      if (++n % 10) continue;
      for (const el of tbody.querySelectorAll(".ago")) {
        const t = ago(el.dataset.at);
        if (el.textContent !== t) el.textContent = t;
      }
    }
  })();

  await live.shown;
  return { reload: load };
}

export async function queuePage(view, params) {
  view.append(h("h1", {}, "Queue"));
  await mountBuildsList(view.appendChild(h("section", { id: "queue-list" })), { id: "queue", params, queue: true });
}

export async function allBuildsPage(view, params) {
  view.append(h("h1", {}, "Builds"));
  await mountBuildsList(view.appendChild(h("section", { id: "all-builds" })), { id: "builds", params });
}
