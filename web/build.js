// A build's page: its status and progress, what it reproduces, its facts,
// image, log (web/log.js) and resolved device graph, following the build
// live until it ends.
import { TERMINAL, sseReader, h, duration, size, enc, ApiError, call, getJSON, report, sleep, viewSignal, requireScope } from "./lib.js";
import { scroller } from "./lib.js";
import * as lib from "./lib.js";
import { LogViewer } from "./log.js";
import { elapsed } from "./builds.js";

// ---- the daemon away --------------------------------------------------------------

const unreachableError = (e) => e instanceof ApiError && e.status === 0;

// How long a loop of the page waits after a request the daemon did not
// answer: 1, 2, 4, then 8 s between tries, so that a daemon that is down
// (or restarting) is not asked every second by every loop. What the user
// sees of it is lib.js's one banner (call() shows it and clears it at the
// next answer); the page keeps what it showed.
class Backoff {
  constructor() { this.ms = 0; }
  failed() {
    this.ms = Math.min(this.ms ? this.ms * 2 : 1000, 8000);
    return this.ms;
  }
  ok() { this.ms = 0; }
}

// ---- the log ----------------------------------------------------------------------

const utf8 = new TextEncoder();

// Follows the log into `viewer`: server-sent events read from a fetch()
// (EventSource cannot send the token), each line's event id being the byte
// offset after it; if the stream drops, asks for the log from that offset
// until the daemon says it is complete (every second while the build runs,
// backing off while the daemon cannot be reached), as mgctl does. Resolves
// when the log is complete.
async function followLog(id, viewer, signal, backoff) {
  let offset = 0;
  let reader = null;
  try {
    const res = await call("GET", "/builds/" + id + "/log?offset=0", { accept: "text/event-stream", signal });
    if ((res.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
      reader = sseReader(res);
      let ended = false;
      for (let ev; !ended && (ev = await reader.next());) {
        if (ev.event === "end") { ended = true; break; }
        if (ev.data === null || ev.id === null) continue;
        const next = Number(ev.id);
        const extra = next - offset - utf8.encode(ev.data).length;
        if (!(extra >= 0 && extra <= 2)) throw new Error("the stream's offsets do not fit");
        viewer.append(ev.data + (extra === 2 ? "\r\n" : extra === 1 ? "\n" : ""));
        offset = next;
      }
      if (ended) { viewer.end(); return; }
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
      await sleep(backoff.failed(), signal);
      continue;
    }
    backoff.ok();
    viewer.append(decoder.decode(bytes, { stream: true }));
    offset += bytes.length;
    if (res.headers.get("X-More-Data") === "false" && offset >= Number(res.headers.get("X-Log-Size"))) {
      viewer.append(decoder.decode());
      viewer.end();
      return;
    }
    await sleep(1000, signal);
  }
}

// ---- the build ----------------------------------------------------------------------

const link = (id) => h("a", { href: "#/builds/" + id }, "#" + id);

function fact(field, label, value) {
  return [h("dt", {}, label), h("dd", { dataset: { field } }, value)];
}

// How an interrupted build ended, by its log's last line (docs/daemon.md,
// "Logs"): "stop" (the daemon stopped it and recorded the end), "crash"
// (the next start marked it: its finished_at is that start, and nothing
// of what it ran was recorded), or null while the log does not say.
function interruption(b, viewer) {
  if (b.status !== "interrupted") return null;
  const last = viewer.terminalLine();
  return !last ? null : /^\[mgd\] interrupted: /.test(last) ? "crash" : "stop";
}

// The duration, finished and cache facts: what the daemon recorded, except
// where an interruption keeps it from being true.
function endFacts(b, viewer) {
  const how = interruption(b, viewer);
  const noCache = !b.cache || (!b.cache.actions && !b.cache.hits && !b.cache.misses);
  let dur = duration(b.duration_ms), finished = b.finished_at || "-";
  if (b.status === "interrupted" && how !== "stop") {
    dur = "unknown (the daemon stopped without recording the end)";
    if (how === "crash" && b.finished_at) finished = b.finished_at + " (when the next start marked it interrupted)";
  } else if (how === "stop" && b.duration_ms !== null) {
    dur += " (until the daemon stopped it)";
  }
  const cache = b.status !== "succeeded" && noCache ? (b.status === "interrupted" ? "not recorded (interrupted)" : "-")
    : b.cache ? b.cache.hits + " hits, " + b.cache.misses + " misses of " + b.cache.actions + " actions" : "-";
  return { dur, finished, cache };
}

function buildFacts(b, viewer) {
  const end = endFacts(b, viewer);
  const keys = Object.entries(b.keys || {}).map(([k, v]) => k + "=" + v).join(" ");
  // each id a link (h() flattens one level: the pieces are flattened here)
  const ids = (list) => list && list.length
    ? h("span", { class: "repro-list" }, list.flatMap((x, i) => [i ? ", " : "", link(x)])) : "-";
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
    fact("finished_at", "finished", end.finished),
    fact("duration", "duration", end.dur),
    b.worker ? fact("worker", "worker", b.worker) : null,
    fact("cache", "cache", end.cache),
    b.reused_from ? fact("reused_from", "reused from", [link(b.reused_from), " (its image; no action ran)"]) : null,
    b.rebuild_of ? fact("rebuild_of", "rebuild of", link(b.rebuild_of)) : null,
    fact("pinned", "pinned", b.pinned ? "yes: gc keeps it" : "no"),
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

// What the page says about reproducibility above the facts: a reused build
// ran nothing, so it reproduces nothing (docs/daemon.md, "Builds").
function reproSummary(b) {
  if (b.reused_from) {
    return h("p", { id: "build-reused", class: "notice" }, "Reused the image of ", link(b.reused_from),
      ", ran no action: it says nothing about whether the build is reproducible.");
  }
  if (b.status !== "succeeded") return null;
  const parts = [];
  if (b.reproduced_by.length) parts.push(["Reproduced by ", b.reproduced_by.flatMap((x, i) => [i ? ", " : "", link(x)]),
    " (same image, every action run again)."]);
  if (b.reproduces.length) parts.push(["Reproduces ", b.reproduces.flatMap((x, i) => [i ? ", " : "", link(x)]),
    " (ran every action and made the same image)."]);
  if (b.differs_from.length) parts.push(["Differs from ", b.differs_from.flatMap((x, i) => [i ? ", " : "", link(x)]),
    " (same inputs, another image)."]);
  if (!parts.length) return null;
  return h("p", { id: "build-repro", class: "notice" }, parts.map((p, i) => [i ? " " : "", p]).flat(Infinity));
}

// The terminal reason, once: the red banner for a failed build only; a
// cancelled or interrupted build gets a neutral notice (the log's last
// line, when it says how the build ended).
function ending(b, viewer) {
  if (b.status === "cancelled") return "This build was cancelled by a user.";
  if (b.status === "interrupted") {
    const last = viewer.terminalLine();
    return last && /interrupted/.test(last) ? "This build was " + last.replace(/^\[mgd\] /, "") + "."
      : "This build was interrupted: the daemon stopped while it ran.";
  }
  return "";
}

// What the build does now: its place in the queue, or how long it has run,
// its phase and the steps running (the daemon's progress; for a pull
// worker's build, the steps its log started and has not ended).
function progressLine(b, viewer) {
  if (b.status === "queued") {
    return b.queue_position ? ["Queued: ", h("span", { id: "build-queue-position" }, String(b.queue_position)),
      b.queue_position === 1 ? " (next to run)" : " in the queue"] : "Queued.";
  }
  if (b.status !== "running") return null;
  const phase = b.progress ? { sources: "taking the sources", resolve: "resolving the config", build: "building" }[b.progress.phase] || b.progress.phase : null;
  const steps = b.progress && b.progress.steps.length ? b.progress.steps : (b.progress ? [] : viewer.running());
  return ["Running for ", h("span", { id: "build-elapsed" }, elapsed(Date.now() - Date.parse(b.started_at))),
    phase ? [" · ", h("span", { id: "build-phase" }, phase)] : null,
    steps.length ? [": ", h("span", { id: "build-steps", class: "mono" }, steps.join(", "))] : null];
}

export async function buildPage(view, id, params) {
  const signal = viewSignal();
  // the record before anything is drawn: a page that fails headless (no such
  // build, the daemon away) is the router's to explain
  let b = await getJSON("/builds/" + id);
  view.append(h("h1", { id: "build-title" }, "Build " + b.id));
  // the tab's title, where lib.js can set it (the shell's setTitle)
  if (typeof lib.setTitle === "function") lib.setTitle("Build " + b.id + " · " + b.project.name);

  const viewer = new LogViewer(b.id);
  const line = Number((params || new URLSearchParams()).get("line"));
  if (line) viewer.setTarget(line);
  const status = h("span", { id: "build-status", class: "status status-" + b.status }, b.status);
  const cancelBtn = h("button", { id: "build-cancel", class: "plain", type: "button" }, "Cancel");
  const rebuildBtn = h("button", { id: "build-rebuild", class: "plain", type: "button" }, "Rebuild");
  const pinBtn = h("button", { id: "build-pin", class: "plain", type: "button" }, "Pin");
  const compare = h("a", { id: "build-compare", href: "#/compare/" + b.id }, "Compare…");
  const sizeLink = h("a", { id: "build-size", href: "#/builds/" + b.id + "/size", hidden: true }, "Size breakdown");
  const progress = h("p", { id: "build-progress", class: "build-progress", hidden: true });
  const repro = h("div", {});
  const facts = h("div", {}, buildFacts(b, viewer));
  const image = h("div", {}, imageBox(b));
  const error = h("p", { id: "build-error", class: "banner error", role: "alert", hidden: true });
  const ended = h("p", { id: "build-notice", class: "notice", hidden: true });
  const devices = h("div", {}, h("p", { class: "empty" }, "Not resolved yet."));
  view.append(h("div", { class: "build-actions" }, status, cancelBtn, rebuildBtn, pinBtn, compare, sizeLink),
    progress, error, ended, repro,
    h("div", { class: "grid2" }, h("section", {}, h("h2", {}, "Facts"), facts),
      h("section", {}, h("h2", {}, "Image"), image)),
    h("h2", {}, "Log"), viewer.el, h("h2", {}, "Resolved device graph"), devices);

  function showProgress() {
    const p = progressLine(b, viewer);
    progress.replaceChildren(...(p ? [p].flat(Infinity).filter((x) => x !== null) : []));
    progress.hidden = !p;
  }
  function showEnding() {
    error.textContent = b.status === "failed" ? b.error || "The build failed." : "";
    error.hidden = b.status !== "failed";
    ended.textContent = ending(b, viewer);
    ended.hidden = !ended.textContent;
  }
  function show(nb) {
    b = nb;
    status.textContent = b.status;
    status.className = "status status-" + b.status;
    facts.replaceChildren(buildFacts(b, viewer));
    image.replaceChildren(imageBox(b));
    repro.replaceChildren(reproSummary(b) || "");
    showEnding();
    showProgress();
    cancelBtn.hidden = TERMINAL.includes(b.status);
    rebuildBtn.hidden = !TERMINAL.includes(b.status);
    pinBtn.textContent = b.pinned ? "Unpin" : "Pin";
    pinBtn.title = pinBtn.disabled ? pinBtn.title : b.pinned ? "let gc remove it again" : "keep it whatever the retention says";
    sizeLink.hidden = !b.image;
  }
  show(b);
  // a token without the write scope: the actions are disabled, with the reason
  for (const btn of [cancelBtn, rebuildBtn, pinBtn]) requireScope(btn, "write").catch(() => {});
  cancelBtn.addEventListener("click", async () => {
    try { show(await (await call("POST", "/builds/" + b.id + "/cancel")).json()); } catch (e) { report(e); }
  });
  rebuildBtn.addEventListener("click", async () => {
    try { location.hash = "#/builds/" + (await (await call("POST", "/builds/" + b.id + "/rebuild")).json()).id; }
    catch (e) { report(e); }
  });
  pinBtn.addEventListener("click", async () => {
    try { show(await (await call(b.pinned ? "DELETE" : "POST", "/builds/" + b.id + "/pin")).json()); }
    catch (e) { report(e); }
  });
  // the elapsed time ticks between the records
  const tick = setInterval(() => {
    if (signal.aborted) { clearInterval(tick); return; }
    const el = progress.querySelector("#build-elapsed");
    if (el && b.status === "running") el.textContent = elapsed(Date.now() - Date.parse(b.started_at));
  }, 1000);
  signal.addEventListener("abort", () => clearInterval(tick), { once: true });

  // The resolved graph: not asked for while the build is queued or before
  // its config is resolved (it is not there yet); once shown, or once the
  // build ended without one, not asked for again.
  let describeDone = false;
  async function showDescribe() {
    if (describeDone || b.status === "queued") return;
    if (b.status === "running" && b.progress && b.progress.phase !== "build") return;
    try {
      devices.replaceChildren(scroller(devicesTable(await getJSON("/builds/" + b.id + "/describe"))));
      describeDone = true;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
      if (TERMINAL.includes(b.status)) {
        describeDone = true;
        devices.replaceChildren(h("p", { class: "empty" }, "None: the build ended before its config was resolved."));
      }
    }
  }
  // the record while the build runs (backing off while the daemon is away);
  // the log until it is complete
  const records = new Backoff();
  const polling = (async () => {
    while (!TERMINAL.includes(b.status)) {
      try {
        await sleep(records.ms || 1000, signal);
        show(await getJSON("/builds/" + b.id));
        records.ok();
        await showDescribe();
      } catch (e) {
        if (!unreachableError(e)) throw e;
        records.failed();
      }
    }
  })().catch((e) => report(e));
  await showDescribe().catch((e) => { if (!unreachableError(e)) report(e); });
  await followLog(b.id, viewer, signal, new Backoff());
  await polling;
  for (;;) {
    try {
      show(await getJSON("/builds/" + b.id));
      await showDescribe();
      break;
    } catch (e) {
      if (!unreachableError(e)) throw e;
      await sleep(records.failed(), signal);
    }
  }
  records.ok();
  // the log's last line is known now: the notice of a cancel or an
  // interruption may quote it, the facts of an interruption depend on it
  showEnding();
  facts.replaceChildren(buildFacts(b, viewer));
}
