// The log viewer of a build's page: the log (docs/daemon.md, "Logs") as
// numbered lines with links to each (#/builds/ID?line=N), error and warning
// lines marked, each step ("LABEL: ran in N ms" and what follows it) a group
// that folds, its command line folded by default, search, a jump to the
// first error, and the raw log as a download.
//
// Lines come in pieces while a build runs (append) and are parsed at once
// (their kind, for the counts, search and the first error), but made into
// elements in chunks between the browser's other work, so that a log of tens
// of thousands of lines neither blocks the page nor is ever rendered twice:
// what arrives later is appended. The text of the <pre> is exactly the log
// (line numbers and buttons draw their text from CSS), and the log is only
// ever put into the page as text.
import { h, call, report, hashParams, setHashParams } from "./lib.js";


const TS = /^\[\s*\d+\.\d+\] /;
const STEP_END = /^(.+?): ran in (\d+) ms(?: on (\S+))?(?:, (.+))?$/;
const STEP_START = /^(.+?): started(?: on \S+)?$/;
const STEP_OTHER = /^(.+?): (?:cached|distcc failed on \S+: compiled here)$/;
// The daemon's own lines between and after the steps (they end a step's output)
const DAEMON = /^(?:\[mgd\] |build \d+ of |sources: |resolved |input hash |build \S+ for |reused build \d+|image \S+: \d+ bytes|waiting for |worker \S+: )/;
const TERMINAL = /^(?:succeeded|error: .*|cancelled by a user|interrupted: .*|\[mgd\] interrupted: .*|worker \S+: (?:succeeded|error: .*))$/;
const ERROR = /(?:^|[\s:])(?:fatal )?error:|undefined reference to /i;
const WARNING = /(?:^|[\s:])warning:/i;
const CHUNK = 1000; // lines made into elements per turn of the event loop

// One line of the log: its text without the line end, the line end, and
// what it is: "start", "end", "other" (a step's cached/distcc line),
// "daemon", "cmd" (a step's command line), "error", "warning" or "text".
function classify(body, afterEnd) {
  if (STEP_END.test(body)) return "end";
  if (STEP_START.test(body)) return "start";
  if (STEP_OTHER.test(body)) return "other";
  if (afterEnd && body.startsWith("$ ")) return "cmd";
  if (DAEMON.test(body)) return ERROR.test(body) ? "error" : "daemon";
  if (ERROR.test(body)) return "error";
  if (WARNING.test(body)) return "warning";
  return "text";
}

export class LogViewer {
  // id: the build's; pre: where the lines go (its text is the log).
  constructor(id) {
    this.id = id;
    this.lines = []; // {text, eol, ts (length of the time prefix), kind, step (label)}
    this.partial = "";
    this.complete = false;
    this.rendered = 0; // lines made into elements
    this.rows = []; // their elements, by index
    this.group = null; // the step whose output the next line continues
    this.inCmd = false; // the lines after "ran in" that are its command
    this.started = new Map(); // label -> start rows of the steps that have not ended
    this.errors = [];
    this.warnings = 0;
    // hits: {n, at} in the log's order; lines: line -> the indexes of its hits
    this.search = { q: "", hits: [], cur: -1, lines: new Map() };
    // rendered lines whose marks are to be redrawn after the search changed,
    // a chunk per turn of the event loop (markLater)
    this.remark = [];
    this.remarking = false;
    this.target = null; // the line the URL names (?line=N), 1-based
    this.follow = true; // keep the end in view while lines come
    this.scheduled = false;

    // focusable, so that a keyboard scrolls it; a region, so that its name is read
    this.pre = h("pre", { id: "build-log", class: "log", tabindex: "0", role: "region", "aria-label": "Log of build " + id });
    this.pre.addEventListener("scroll", () => {
      this.follow = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
    });
    this.pre.addEventListener("click", (ev) => this.onClick(ev));
    this.centring = null; // the target line to centre again as chunks come (centreLater)
    this.centreQueued = false;
    for (const ev of ["wheel", "touchstart", "keydown", "mousedown"]) {
      this.pre.addEventListener(ev, () => { this.centring = null; }, { passive: true });
    }

    this.firstError = h("button", { id: "log-first-error", class: "plain", type: "button", disabled: true,
      onclick: () => { if (this.errors.length) this.goTo(this.errors[0] + 1, { push: true }); } }, "Jump to first error");
    this.counts = h("span", { id: "log-counts", class: "muted" }, "");
    this.searchInput = h("input", { id: "log-search", type: "search", placeholder: "Search the log",
      "aria-label": "Search the log", autocomplete: "off", spellcheck: "false" });
    this.searchCount = h("span", { id: "log-search-count", class: "muted", "aria-live": "polite" }, "");
    // enabled while the search has matches to step through (showCount)
    const prev = h("button", { id: "log-search-prev", class: "plain", type: "button", disabled: true,
      onclick: () => this.step(-1) }, "Previous");
    const next = h("button", { id: "log-search-next", class: "plain", type: "button", disabled: true,
      onclick: () => this.step(1) }, "Next");
    this.stepButtons = [prev, next];
    let timer = 0;
    this.searchInput.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.setSearch(this.searchInput.value), 150);
    });
    this.searchInput.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      clearTimeout(timer);
      if (this.searchInput.value !== this.search.q) this.setSearch(this.searchInput.value);
      else this.step(ev.shiftKey ? -1 : 1);
    });
    const raw = h("a", { id: "log-raw", href: "/builds/" + id + "/log", download: "build-" + id + ".log" }, "Raw log");
    raw.addEventListener("click", (ev) => { ev.preventDefault(); this.download().catch(report); });
    this.el = h("div", { id: "log-viewer" },
      h("div", { class: "log-tools" }, this.firstError, this.counts,
        h("span", { class: "log-search" }, this.searchInput, prev, next, this.searchCount), raw),
      this.pre);
    this.updateCounts();
  }

  // ---- lines in ----------------------------------------------------------------

  // More of the log (any piece: lines are cut at their ends here).
  append(text) {
    if (!text) return;
    const all = this.partial + text;
    let from = 0;
    for (let nl; (nl = all.indexOf("\n", from)) >= 0; from = nl + 1) {
      let end = nl;
      if (end > from && all[end - 1] === "\r") end--;
      this.addLine(all.slice(from, end), all.slice(end, nl + 1));
    }
    this.partial = all.slice(from);
    if (this.search.q) this.showCount();
    this.schedule();
  }

  // The log is complete: its last piece (a line without an end) and its
  // terminal line, which says how the build ended.
  end() {
    if (this.complete) return;
    if (this.partial) this.addLine(this.partial, "");
    this.partial = "";
    this.complete = true;
    const n = this.lines.length - 1, last = this.lines[n];
    if (last && TERMINAL.test(last.text.slice(last.ts))) {
      last.terminal = true;
      const row = this.rows[n];
      if (row) {
        // shown already, as a step's output: it is the build's end, not the step's
        row.className += " " + this.terminalClass(n);
        if (row.closest(".step")) this.pre.append(row);
      }
    }
    this.schedule();
    this.markUnended();
  }

  terminalClass(n) {
    const body = this.lines[n].text.slice(this.lines[n].ts);
    return "terminal " + (/^(?:worker \S+: )?error: /.test(body) ? "terminal-failed"
      : /^(?:worker \S+: )?succeeded$/.test(body) ? "terminal-ok" : "terminal-neutral");
  }

  // How the log says the build ended (its last line, without the time), or
  // null before it is complete or when it does not say.
  terminalLine() {
    const last = this.lines[this.lines.length - 1];
    return this.complete && last && last.terminal ? last.text.slice(last.ts) : null;
  }

  // The steps that started and have not ended, by the log.
  running() {
    return [...this.started.keys()];
  }

  addLine(text, eol) {
    const m = TS.exec(text);
    const ts = m ? m[0].length : 0;
    const body = text.slice(ts);
    const prev = this.lines[this.lines.length - 1];
    const afterEnd = !!prev && (prev.kind === "end" || prev.kind === "cmd");
    const kind = classify(body, afterEnd);
    const n = this.lines.length;
    this.lines.push({ text, eol, ts, kind });
    if (kind === "error") { this.errors.push(n); this.updateCounts(); }
    else if (kind === "warning") { this.warnings++; this.updateCounts(); }
    if (this.search.q) this.findIn(n);
  }

  updateCounts() {
    const e = this.errors.length, w = this.warnings;
    this.counts.textContent = e || w ? [e ? e + (e === 1 ? " error" : " errors") : "",
      w ? w + (w === 1 ? " warning" : " warnings") : ""].filter(Boolean).join(", ") : "";
    this.firstError.disabled = !e;
  }

  // ---- lines made into elements ---------------------------------------------

  schedule() {
    if (this.scheduled || this.rendered >= this.lines.length) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.renderUpTo(Math.min(this.lines.length, this.rendered + CHUNK));
      this.schedule();
    }, 0);
  }

  renderUpTo(limit) {
    if (this.rendered >= limit) return;
    const atEnd = this.follow;
    // rows and steps in the order they come: a step already on the page
    // takes its rows where it is, before anything this turn adds
    const top = document.createDocumentFragment();
    for (; this.rendered < limit; this.rendered++) {
      const n = this.rendered, line = this.lines[n];
      const body = line.text.slice(line.ts);
      const row = this.row(n);
      if (line.kind === "end") {
        // a step: this line its header, its command and output inside
        const [, label, , , how] = STEP_END.exec(body);
        const starts = this.started.get(label);
        if (starts) {
          const s = starts.shift();
          s.classList.remove("running");
          if (!starts.length) this.started.delete(label);
        }
        const fold = h("button", { type: "button", class: "fold", "aria-expanded": "true", "aria-label": "fold " + label });
        const cmdBtn = h("button", { type: "button", class: "cmd-toggle", "aria-expanded": "false",
          "aria-label": "show the command of " + label, title: "the command" });
        row.firstChild.after(fold, cmdBtn);
        row.classList.add("step-head", how ? (how === "stopped" ? "step-stopped" : "step-failed") : "step-ok");
        const cmd = h("span", { class: "step-cmd", hidden: true });
        const out = h("span", { class: "step-out" });
        const group = h("span", { class: "step", dataset: { step: label } }, row, cmd, out);
        group.cmdBox = cmd;
        group.outBox = out;
        this.closeGroup();
        this.group = group;
        this.inCmd = true;
        top.append(group);
        continue;
      }
      if (line.kind === "cmd" && this.group && this.inCmd) {
        row.classList.add("cmd");
        this.group.cmdBox.append(row);
        continue;
      }
      this.inCmd = false;
      if (line.kind === "start" || line.kind === "other" || line.kind === "daemon" || line.terminal) this.closeGroup();
      if (line.kind === "start") {
        const label = STEP_START.exec(body)[1];
        if (!this.started.has(label)) this.started.set(label, []);
        this.started.get(label).push(row);
        row.classList.add("running");
      }
      if (this.group) this.group.outBox.append(row);
      else top.append(row);
    }
    this.pre.append(top);
    this.markUnended();
    if (this.target !== null && this.target <= this.rendered && !this.targetShown) this.showTarget();
    else if (this.centring !== null) this.centreLater();
    else if (atEnd && this.target === null) this.pre.scrollTop = this.pre.scrollHeight;
  }

  // Once the whole log is shown: the steps the end of the build cut did not
  // end, and do not run.
  markUnended() {
    if (!this.complete || this.rendered < this.lines.length) return;
    for (const starts of this.started.values()) {
      for (const s of starts) {
        s.classList.replace("running", "unended");
        s.title = "this step has no end line: the build ended first";
      }
    }
    this.started.clear();
  }

  closeGroup() {
    this.group = null;
    this.inCmd = false;
  }

  // The elements of line n (0-based): its number (a link to it), its time
  // and its text, the line end included.
  row(n) {
    const line = this.lines[n];
    const cls = "line" + (line.kind === "error" || line.kind === "warning" || line.kind === "start" ||
      line.kind === "daemon" || line.kind === "other" ? " " + line.kind : "") +
      (line.terminal ? " " + this.terminalClass(n) : "") + (this.target === n + 1 ? " target" : "");
    const row = h("span", { class: cls, dataset: { line: n + 1 } },
      h("a", { class: "ln", href: this.href(n + 1), "aria-label": "line " + (n + 1), dataset: { n: n + 1 },
        tabindex: "-1" })); // not a Tab stop each: the search and the first-error button reach lines
    this.fill(row, n);
    this.rows[n] = row;
    return row;
  }

  // The time and the text of line n into `row`, with the search's matches marked.
  fill(row, n) {
    const line = this.lines[n];
    const full = line.text + line.eol;
    const cuts = new Set([0, line.ts, line.text.length, full.length]);
    const marks = [];
    const ql = this.search.q.length;
    for (const i of this.search.lines.get(n) || []) {
      const at = this.search.hits[i].at;
      marks.push({ from: at, to: at + ql, cur: i === this.search.cur });
      cuts.add(at); cuts.add(at + ql);
    }
    const points = [...cuts].filter((x) => x >= 0 && x <= full.length).sort((a, b) => a - b);
    while (row.childNodes.length > 1 && !row.lastChild.matches?.("a.ln, button")) row.lastChild.remove();
    const ts = h("span", { class: "ts" });
    const tx = h("span", { class: "tx" });
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      if (a === b) continue;
      const piece = full.slice(a, b);
      const mark = marks.find((m) => a >= m.from && b <= m.to);
      const node = mark ? h("mark", { class: mark.cur ? "current" : null }, piece) : document.createTextNode(piece);
      (a < line.ts ? ts : tx).append(node);
    }
    if (ts.firstChild) row.append(ts);
    row.append(tx);
  }

  // ---- lines in the URL -----------------------------------------------------

  href(n) {
    return "#/builds/" + this.id + "?line=" + n;
  }

  onClick(ev) {
    const a = ev.target.closest("a.ln");
    if (a) {
      if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return; // a new tab
      ev.preventDefault();
      this.goTo(Number(a.dataset.n), { push: true });
      return;
    }
    const b = ev.target.closest("button");
    if (!b) return;
    const group = b.closest(".step");
    if (b.classList.contains("fold")) this.setFolded(group, b.getAttribute("aria-expanded") === "true");
    else if (b.classList.contains("cmd-toggle")) this.setCmdShown(group, b.getAttribute("aria-expanded") !== "true");
  }

  setFolded(group, folded) {
    const b = group.querySelector(":scope > .line > button.fold");
    b.setAttribute("aria-expanded", String(!folded));
    b.setAttribute("aria-label", (folded ? "unfold " : "fold ") + group.dataset.step);
    group.classList.toggle("folded", folded);
    group.outBox.hidden = folded;
    if (folded) this.setCmdShown(group, false);
  }

  setCmdShown(group, shown) {
    const b = group.querySelector(":scope > .line > button.cmd-toggle");
    b.setAttribute("aria-expanded", String(shown));
    b.setAttribute("aria-label", (shown ? "hide" : "show") + " the command of " + group.dataset.step);
    group.cmdBox.hidden = !shown;
    if (shown && group.classList.contains("folded")) this.setFolded(group, false);
  }

  // Line n (1-based) in view and marked, and in the URL.
  goTo(n, { push = false } = {}) {
    const q = hashParams();
    q.set("line", n);
    setHashParams(q, { push });
    this.setTarget(n);
  }

  // The line the URL names: marked and scrolled to once it is rendered.
  setTarget(n) {
    if (this.target !== null && this.rows[this.target - 1]) this.rows[this.target - 1].classList.remove("target");
    this.target = Number.isInteger(n) && n > 0 ? n : null;
    this.targetShown = false;
    if (this.target === null) return;
    if (this.target <= this.lines.length) this.renderUpTo(this.target);
    if (this.target <= this.rendered) this.showTarget();
  }

  showTarget() {
    const row = this.rows[this.target - 1];
    if (!row) return;
    row.classList.add("target");
    this.reveal(row);
    this.targetShown = true;
    this.follow = false;
    this.centring = this.target;
    this.centreLater();
  }

  // The target centred once its chunk is laid out, and again after the next
  // chunks while the box could not scroll far enough (the target among the
  // last rows rendered), until the user scrolls the box.
  centreLater() {
    if (this.centreQueued) return;
    this.centreQueued = true;
    requestAnimationFrame(() => {
      this.centreQueued = false;
      const n = this.centring, row = n && this.rows[n - 1];
      if (!row || n !== this.target) return;
      this.centre(row);
      const clamped = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 1;
      if (!clamped || (this.complete && this.rendered >= this.lines.length)) this.centring = null;
    });
  }

  // `row` in the middle of the log's box, then in the window. Not
  // scrollIntoView: it centres the row in the part of the box the window
  // shows before it scrolls the window, which leaves the row at the box's
  // edge when the box starts low in the window.
  centre(row) {
    const box = this.pre.getBoundingClientRect(), r = row.getBoundingClientRect();
    this.pre.scrollTop += r.top - box.top - this.pre.clientTop - (this.pre.clientHeight - r.height) / 2;
    const after = row.getBoundingClientRect();
    if (after.top < 0 || after.bottom > innerHeight) window.scrollBy(0, after.top - (innerHeight - after.height) / 2);
  }

  // A row inside a folded step or a folded command: unfolded.
  reveal(row) {
    const group = row.closest(".step");
    if (!group) return;
    if (row.parentElement === group.cmdBox) this.setCmdShown(group, true);
    else if (row.parentElement === group.outBox) this.setFolded(group, false);
  }

  // ---- search -----------------------------------------------------------------

  // The matches are found at once (the count, Previous and Next), but the
  // rows that show them are redrawn a chunk at a time, the lines around the
  // current match first: "e" in a log of 20 000 lines marks tens of
  // thousands of lines, which at once would block the page for seconds.
  setSearch(q) {
    const old = this.search.lines;
    this.search = { q, hits: [], cur: -1, lines: new Map() };
    if (q) for (let n = 0; n < this.lines.length; n++) this.findIn(n, false);
    const redraw = [...new Set([...old.keys(), ...this.search.lines.keys()])].filter((n) => this.rows[n]);
    if (this.search.hits.length) this.step(1);
    else this.showCount();
    const at = this.search.cur >= 0 ? this.search.hits[this.search.cur].n : 0;
    this.remark = redraw.sort((a, b) => Math.abs(b - at) - Math.abs(a - at)); // popped: the nearest last
    this.markLater();
  }

  markLater() {
    if (this.remarking || !this.remark.length) return;
    this.remarking = true;
    setTimeout(() => {
      this.remarking = false;
      const until = performance.now() + 25;
      while (this.remark.length && performance.now() < until) {
        const n = this.remark.pop();
        if (this.rows[n]) this.fill(this.rows[n], n);
      }
      this.markLater();
    }, 0);
  }

  // The matches of the search in line n; `draw`: its row redrawn now.
  findIn(n, draw = true) {
    const { q } = this.search;
    const line = this.lines[n].text.toLowerCase(), ql = q.toLowerCase();
    for (let at = line.indexOf(ql); at >= 0; at = line.indexOf(ql, at + ql.length)) {
      if (!this.search.lines.has(n)) this.search.lines.set(n, []);
      this.search.lines.get(n).push(this.search.hits.length);
      this.search.hits.push({ n, at });
    }
    if (draw && this.rows[n] && this.search.lines.has(n)) this.fill(this.rows[n], n);
  }

  step(dir) {
    const { hits } = this.search;
    if (!hits.length) return;
    const before = this.search.cur >= 0 ? hits[this.search.cur].n : -1;
    this.search.cur = (this.search.cur + dir + hits.length) % hits.length;
    const n = hits[this.search.cur].n;
    this.renderUpTo(n + 1);
    for (const m of new Set([before, n])) if (m >= 0 && this.rows[m]) this.fill(this.rows[m], m);
    this.reveal(this.rows[n]);
    this.centre(this.rows[n]);
    this.follow = false;
    this.showCount();
  }

  showCount() {
    const { q, hits, cur } = this.search;
    this.searchCount.textContent = !q ? "" : !hits.length ? "no match"
      : (cur >= 0 ? cur + 1 : 0) + " of " + hits.length;
    for (const b of this.stepButtons) b.disabled = !hits.length;
  }

  // ---- the raw log ------------------------------------------------------------

  async download() {
    const blob = await (await call("GET", "/builds/" + this.id + "/log")).blob();
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: "build-" + this.id + ".log", hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
}
