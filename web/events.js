// The daemon's live events (GET /events, server-sent events over fetch so
// that the token travels in the Authorization header): one stream for the
// whole page, shared by every list that wants it, reopened with backoff
// when it breaks. The daemon replays nothing (docs/api.md): a list loads
// its current page each time the stream (re)opens, and falls back to
// polling while it is down.
import { call, sseReader, ApiError, report, sleep, getToken } from "./lib.js";

const subs = new Set(); // {handlers, told: the last state it was told}
let up = false; // the stream is open
let connecting = false; // a request for it is under way
let running = null; // the connection loop, while any subscriber is left
let current = null; // AbortController of the open request
let streamToken = null; // the token the open request was made with
let closeTimer = null;

const FIRST_RETRY_MS = 2000; // the daemon's `retry:`
const MAX_RETRY_MS = 15000;
const SILENT_MS = 35000; // twice the daemon's keep-alive period, and some
// A list left for another keeps the stream this long, so that going from
// one list to the next does not reopen it.
const LINGER_MS = 3000;

function each(name, ...args) {
  for (const s of [...subs]) {
    const fn = s.handlers[name];
    if (!fn) continue;
    try {
      fn(...args);
    } catch (e) {
      console.error(e); // one list's mistake must not stop the others' events
    }
  }
}

function dispatch(ev) {
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch (_) {
    return; // a keep-alive or something this page does not know
  }
  if (ev.event === "build") each("build", data);
  else if (ev.event === "project") each("project", data);
  else if (ev.event === "project-deleted") each("projectDeleted", data);
}

function tell(sub, v) {
  if (sub.told === v) return;
  sub.told = v;
  if (sub.handlers.state) sub.handlers.state(v);
}

function setUp(v) {
  up = v;
  for (const s of [...subs]) {
    try {
      tell(s, v);
    } catch (e) {
      console.error(e);
    }
  }
}

async function loop() {
  let delay = FIRST_RETRY_MS;
  while (subs.size) {
    const ctl = new AbortController();
    current = ctl;
    try {
      // a stream that sends no headers is as good as none: give up on it
      const timer = setTimeout(() => ctl.abort(), 10000);
      let res;
      connecting = true;
      streamToken = getToken();
      try {
        res = await call("GET", "/events", { accept: "text/event-stream", signal: ctl.signal });
      } finally {
        connecting = false;
        clearTimeout(timer);
      }
      const reader = sseReader(res);
      // the daemon sends a keep-alive every 15 s: a stream silent for longer
      // than twice that is dead (a daemon stopped hard, a network gone)
      // though no close reached the browser: give it up and reconnect
      const watchdog = setInterval(() => { if (Date.now() - reader.lastData > SILENT_MS) ctl.abort(); }, 5000);
      try {
        setUp(true);
        delay = FIRST_RETRY_MS;
        each("reconnect");
        for (;;) {
          const ev = await reader.next();
          if (!ev) break;
          dispatch(ev);
        }
      } finally {
        clearInterval(watchdog);
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        // the token was refused (call() asked for another): nothing to wait for
        setUp(false);
        break;
      }
    }
    if (current === ctl) current = null;
    setUp(false);
    if (!subs.size) break;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
  running = null;
}

// Whether the stream is open now.
export const eventsUp = () => up;

// Subscribes until `signal` aborts. handlers (all optional):
//   build(b)          a Build as GET /builds/:id answers it (created, new
//                     status, progress, queue position, pin)
//   project(p)        a project as GET /projects lists it
//   projectDeleted(d) {id, name}
//   reconnect()       the stream (re)opened: load what is shown again (no
//                     replay); also called at once when it is open already
//   state(up)         the stream opened (true) or broke (false); told
//                     first as soon as it is known (false when the stream
//                     is not open and no attempt is under way, or when an
//                     attempt takes more than a second)
export function onEvents(signal, handlers) {
  if (signal.aborted) return;
  const sub = { handlers, told: null };
  subs.add(sub);
  clearTimeout(closeTimer);
  // another token (the user signed in again): a stream of its own
  if (current && streamToken !== getToken()) current.abort();
  signal.addEventListener("abort", () => {
    subs.delete(sub);
    if (subs.size) return;
    clearTimeout(closeTimer);
    closeTimer = setTimeout(() => {
      if (!subs.size && current) current.abort();
    }, LINGER_MS);
  }, { once: true });
  if (!running) running = loop();
  queueMicrotask(() => {
    if (!subs.has(sub)) return;
    if (up) {
      tell(sub, true);
      if (handlers.reconnect) handlers.reconnect();
    } else if (!connecting) {
      tell(sub, false);
    } else {
      // the first answer is usually quick: wait for it rather than load twice
      setTimeout(() => { if (subs.has(sub) && sub.told === null) tell(sub, false); }, 1000);
    }
  });
}

const POLL_MS = 10000; // a list's refresh while the stream is down

// Keeps a list current until `signal` aborts: load() when the stream opens
// and again after each reopening, `handlers` (as onEvents') for its events,
// and load() every 10 s while it is down; `note`, an element, says which of
// the two it is. Answers {shown: resolves after the first load (done or
// failed), reloadSoon(): load() a moment later, once however often asked}.
export function followList(signal, { load, note, ...handlers }) {
  let firstDone = null;
  const shown = new Promise((resolve) => { firstDone = resolve; });
  const loadNow = () => load().catch(report).finally(() => firstDone());
  let pollGen = 0; // the polling loop that may run
  async function poll(gen) {
    while (gen === pollGen && !signal.aborted) {
      if (document.visibilityState === "visible") await loadNow();
      try { await sleep(POLL_MS, signal); } catch (_) { return; }
    }
  }
  onEvents(signal, {
    ...handlers,
    reconnect: loadNow,
    state(isUp) {
      note.textContent = isUp ? "live" : "live updates unavailable: refreshing every 10 s";
      note.classList.toggle("down", !isUp);
      if (isUp) pollGen++;
      else poll(++pollGen);
    },
  });
  let timer = null;
  function reloadSoon() {
    clearTimeout(timer);
    timer = setTimeout(() => { if (!signal.aborted) load().catch(report); }, 300);
  }
  return { shown, reloadSoon };
}
