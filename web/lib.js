// The dashboard's shared pieces: building elements (h), formatting, and
// talking to the daemon (call, getJSON, getAll) with the user's token and
// the current view's AbortSignal. Every page module imports from here; this
// module imports nothing of the dashboard's own.

export const TOKEN_KEY = "mgd.token";
export const TERMINAL = ["succeeded", "failed", "cancelled", "interrupted"];
export const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "interrupted"];

// ---- the page's state -------------------------------------------------------

let token = localStorage.getItem(TOKEN_KEY) || "";
export const getToken = () => token;
export function setToken(t) {
  token = t;
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

// What the current view started (timers, log streams): stopped when the
// user goes elsewhere (newView) or the token is refused.
let viewAbort = new AbortController();
export const viewSignal = () => viewAbort.signal;
export function abortView() { viewAbort.abort(); }
export function newView() {
  viewAbort.abort();
  viewAbort = new AbortController();
  return viewAbort.signal;
}

// What call() does after a 401 besides its banner: app.js shows the token form.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export const $ = (sel) => document.querySelector(sel);

// h("tag", {attr: value, onclick: fn}, child, "text", ...): an element.
export function h(tag, attrs, ...children) {
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

export function statusSpan(status) {
  return h("span", { class: "status status-" + status }, status);
}

export function ago(rfc3339) {
  if (!rfc3339) return "-";
  const s = Math.round((Date.now() - Date.parse(rfc3339)) / 1000);
  if (s < 5) return "just now";
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 129600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

export function when(rfc3339) {
  return rfc3339 ? h("span", { title: rfc3339 }, ago(rfc3339)) : "-";
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return ms + " ms";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

export function size(bytes) {
  if (bytes < 1024) return bytes + " B";
  const units = ["KiB", "MiB", "GiB"];
  let v = bytes / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return v.toFixed(1) + " " + units[u];
}

export const enc = (s) => encodeURIComponent(s);
export const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

// ---- the URL ----------------------------------------------------------------

// The query of the location's hash ("#/builds?status=failed&page=2"): where
// a page keeps its filters, page number and choices, so that Back, reload
// and a shared link show the same thing.
export function hashParams() {
  const hash = location.hash;
  const q = hash.indexOf("?");
  return new URLSearchParams(q < 0 ? "" : hash.slice(q + 1));
}

// Puts `params` (URLSearchParams or an object; empty values dropped) into
// the hash's query. push: a new history entry (Back returns to the old
// choice); otherwise the current entry is replaced. Neither re-runs the
// router (history API changes fire no hashchange): the page updates itself.
// Each history entry keeps a key (historyKey) by which the router remembers
// its scroll position.
export function setHashParams(params, { push = false } = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of params instanceof URLSearchParams ? params : Object.entries(params)) {
    if (v !== "" && v !== null && v !== undefined) q.set(k, String(v));
  }
  const path = (location.hash || "#/projects").split("?")[0];
  const hash = path + (q.toString() ? "?" + q : "");
  if (hash === location.hash) return;
  if (push) history.pushState({ key: newHistoryKey() }, "", hash);
  else history.replaceState(history.state, "", hash);
}

let keySeq = 0;
const newHistoryKey = () => Date.now().toString(36) + "." + (++keySeq);

// The key of the current history entry, giving it one if it has none (an
// entry a link or location.hash made): [key, whether it had one already,
// i.e. the entry is visited again: Back, Forward, reload].
export function historyKey() {
  const st = history.state;
  if (st && st.key) return [st.key, true];
  const key = newHistoryKey();
  history.replaceState(Object.assign({}, st, { key }), "");
  return [key, false];
}

// ---- the tab's title ----------------------------------------------------------

// document.title is "TEXT · mgd". The router sets a default per route before
// the page runs (routeTitle); a page that knows more ("Build 12 · hello")
// calls setTitle once it does.
const APP_NAME = "mgd";
let titledByPage = false;
const fullTitle = (text) => text ? text + " · " + APP_NAME : APP_NAME;
export function setTitle(text) {
  titledByPage = true;
  document.title = fullTitle(text);
}
// For the router: the default title of a new page.
export function routeTitle(text) {
  titledByPage = false;
  document.title = fullTitle(text);
}
// Whether the page called setTitle since the router's routeTitle.
export const titleSetByPage = () => titledByPage;

// ---- talking to the daemon ----------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

export function showBanner(id, text) {
  const el = $(id);
  el.textContent = text;
  el.hidden = !text;
}

export function clearBanners() {
  showBanner("#auth-error", "");
  showBanner("#error", "");
}

// ---- whether the daemon answers ------------------------------------------------

// A request that gets no answer at all (refused, reset: the daemon is down or
// restarts) makes the page ask GET /health once; when that fails too the
// page is offline: GETs fail at once without a request (so the pages' polls
// and followers neither hammer a daemon that is away nor fill the console),
// and /health alone is asked again after 5 s, then every 8 s, until it
// answers. Other requests (what the user clicks) ask /health first.
// Listeners (onConnectivity) hear each change.
let offline = false;
let probing = null;
let probeTimer = null;
let probeFailures = 0;
const PROBE_DELAYS_MS = [5000, 8000];
const connectivityListeners = new Set();
const OFFLINE_TEXT = "The daemon cannot be reached; the page asks again every few seconds.";

export const isOffline = () => offline;
// fn(offline: boolean) after each change; answers a function that removes it.
export function onConnectivity(fn) {
  connectivityListeners.add(fn);
  return () => connectivityListeners.delete(fn);
}

function setOffline(v) {
  if (offline === v) return;
  offline = v;
  if (v) showBanner("#error", OFFLINE_TEXT);
  else if ($("#error").textContent === OFFLINE_TEXT) showBanner("#error", "");
  for (const fn of [...connectivityListeners]) {
    try { fn(v); } catch (e) { console.error(e); }
  }
}

// Asks GET /health (no token needed); resolves to whether the daemon
// answered. Concurrent callers share one request.
export function probe() {
  if (!probing) {
    clearTimeout(probeTimer);
    probing = fetch("/health", { cache: "no-store", signal: AbortSignal.timeout(5000) })
      .then(() => true, () => false)
      .then((up) => {
        probing = null;
        if (up) probeFailures = 0;
        else probeTimer = setTimeout(probe, PROBE_DELAYS_MS[Math.min(probeFailures++, PROBE_DELAYS_MS.length - 1)]);
        setOffline(!up);
        return up;
      });
  }
  return probing;
}

// Resolves when the daemon answers (at once when it does already), for
// pages that wait for it rather than poll.
export function whenOnline(signal) {
  if (!offline) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const off = onConnectivity((down) => { if (!down) { off(); resolve(); } });
    signal?.addEventListener("abort", () => { off(); reject(new DOMException("", "AbortError")); }, { once: true });
  });
}

const unreachableError = (why) =>
  new ApiError(0, "unreachable", "the daemon cannot be reached" + (why ? " (" + why + ")" : ""));

// fetch() against the daemon with the token. Resolves to the Response of a
// 2xx answer; otherwise shows what went wrong (401 and 403 in #auth-error)
// and throws an ApiError (status 0: no answer, the daemon is away).
export async function call(method, path, { body, accept, signal } = {}) {
  if (offline && (method === "GET" || !(await probe()))) throw unreachableError();
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
    probe();
    throw unreachableError(e.message);
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
    onUnauthorized();
  } else if (res.status === 403) {
    showBanner("#auth-error", "403: this token's scope is too small: " + message + ".");
  }
  throw new ApiError(res.status, code, message, details);
}

export async function getJSON(path, opts) {
  return (await call("GET", path, opts)).json();
}

// Every item of a paginated list.
export async function getAll(path) {
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
export function report(e) {
  if (e.name === "AbortError") return;
  if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 0)) return;
  let text = e instanceof ApiError ? e.code + ": " + e.message : String(e);
  for (const d of (e.details || [])) text += "\n" + (d.path || "/") + ": " + d.message + " (" + d.code + ")";
  showBanner("#error", text);
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException("", "AbortError"));
    const onAbort = () => { clearTimeout(t); reject(new DOMException("", "AbortError")); };
    // the listener goes with the timer, so long-lived pages do not pile them up
    const t = setTimeout(() => { signal.removeEventListener("abort", onAbort); resolve(); }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

// Runs fn() now and every `ms` while the view lasts (and the tab is seen).
export function every(ms, fn) {
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

// Reads the server-sent events of a fetch() Response (EventSource cannot
// send the token): next() resolves to {event, data, id} for each event,
// `event` being "message" when the stream names none and `data`/`id` null
// when absent, and to null at the stream's end; cancel() closes it.
// lastData is when the last bytes came (keep-alive comments included).
// Comments (keep-alives) and unknown fields are skipped.
export function sseReader(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const pending = [];
  return {
    lastData: Date.now(),
    async next() {
      while (!pending.length) {
        const { value, done } = await reader.read();
        if (done) return null;
        this.lastData = Date.now();
        buf += value; // mgd ends SSE lines with LF only
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = "message", data = null, id = null;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const c = line.indexOf(":");
            const field = c < 0 ? line : line.slice(0, c);
            let v = c < 0 ? "" : line.slice(c + 1);
            if (v.startsWith(" ")) v = v.slice(1);
            if (field === "event") event = v;
            else if (field === "id") id = v;
            else if (field === "data") data = data === null ? v : data + "\n" + v;
          }
          if (data !== null || event !== "message") pending.push({ event, data, id });
        }
      }
      return pending.shift();
    },
    cancel() { return reader.cancel(); },
  };
}

// ---- the token's scope ------------------------------------------------------

// The token in use as the daemon sees it (GET /whoami: {id, name, scope}),
// asked once per token.
let whoamiCache = null;
export function whoami() {
  if (!whoamiCache || whoamiCache.token !== token) {
    const t = token;
    whoamiCache = { token: t, promise: getJSON("/whoami", { signal: new AbortController().signal }) };
    whoamiCache.promise.catch(() => { if (whoamiCache && whoamiCache.token === t) whoamiCache = null; });
  }
  return whoamiCache.promise;
}

// Which scopes include which, as the daemon decides (admin includes every
// other; read < write < admin; worker only itself).
const SCOPE_RANK = { read: 1, write: 2, admin: 3 };
export function scopeAllows(have, need) {
  if (have === need || have === "admin") return true;
  if (need === "worker" || have === "worker") return false;
  return (SCOPE_RANK[have] || 0) >= (SCOPE_RANK[need] || 99);
}

// Why the token in use cannot do what needs `need` ("write", "admin"), or
// null when it can (or when the daemon could not be asked: the action's own
// answer will then say). Buttons are disabled with this as their reason.
export async function lacksScope(need) {
  let me;
  try { me = await whoami(); } catch (_) { return null; }
  return scopeAllows(me.scope, need) ? null
    : "needs a token with the " + need + " scope; this one (" + me.name + ") has " + me.scope;
}

// Disables `el` (a button, or every control of a form) when the token in use
// lacks `need`, and says why next to it: a short visible note after each
// disabled button (hidden with it: `[hidden] + .scope-why`), linked by
// aria-describedby, the whole reason in its title. A disabled button is
// not reached by Tab, so the note is what keyboard, screen reader and touch
// users read. The note's id is the control's id + "-why" when it has one.
let scopeNotes = 0;
export async function requireScope(el, need) {
  const why = await lacksScope(need);
  if (!why) return null;
  const controls = el.matches("form, fieldset") ? el.querySelectorAll("button, input, select, textarea") : [el];
  for (const c of controls) {
    c.disabled = true;
    c.title = why;
    if (c.tagName !== "BUTTON") continue;
    const note = h("span", { id: (c.id || "scope-why-" + ++scopeNotes) + "-why", class: "scope-why muted" },
      "needs the " + need + " scope");
    c.after(note);
    c.setAttribute("aria-describedby", [c.getAttribute("aria-describedby"), note.id].filter(Boolean).join(" "));
  }
  return why;
}

// A wide table in a box of its own that scrolls sideways on narrow screens;
// while it does, the box is focusable (a keyboard scrolls it) and named by
// the table's id, as a region. The size watch ends with the view
// (viewSignal).
export function scroller(table) {
  const box = h("div", { class: "scroller", role: "region", "aria-label": (table.id || "table").replace(/-/g, " ") }, table);
  const watch = new ResizeObserver(() => {
    if (box.scrollWidth > box.clientWidth) box.tabIndex = 0;
    else box.removeAttribute("tabindex");
  });
  const signal = viewSignal();
  if (signal.aborted) return box; // drawn for a view already left
  watch.observe(box);
  signal.addEventListener("abort", () => watch.disconnect(), { once: true });
  return box;
}
