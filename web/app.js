// mgd's dashboard: a single page over the daemon's REST API (docs/api.md).
// No framework and no build step: the files of web/ are ES modules served as
// they are, embedded into mgd; this one is the entry point (the token form,
// the header and the router), the pages live in modules of their own and
// share lib.js. Everything the page shows comes from the API with the token
// the user entered (kept in localStorage); text from the server is only ever
// put into the page as text (textContent), never as HTML, and the device
// graph's SVG is shown as an <img>, where it cannot run anything.
import {
  $, h, getToken, setToken, newView, abortView, setUnauthorizedHandler, clearBanners, report,
  hashParams, historyKey, routeTitle, titleSetByPage, ApiError, whoami, scopeAllows, isOffline, probe,
  onConnectivity,
} from "./lib.js";
import { projectPage } from "./projects.js";
import { projectsPage } from "./projectlist.js";
import { buildPage } from "./build.js";
import { queuePage, allBuildsPage } from "./builds.js";
import { targetsPage } from "./targets.js";
import { comparePage } from "./compare.js";
import { sizePage } from "./treemap.js";
import { trendsPage } from "./trends.js";
import { tokensPage } from "./tokens.js";

// ---- the token ------------------------------------------------------------------

function askToken() {
  $("#token-form").hidden = false;
  $("#view").hidden = true;
  $("#token-forget").hidden = true;
  showWho(null);
  routeTitle("Sign in");
  firstRoute = false; // the page after the form gets the focus
  $("#token-input").focus();
}

$("#token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setToken($("#token-input").value.trim());
  $("#token-input").value = "";
  $("#token-form").hidden = true;
  $("#view").hidden = false;
  $("#token-forget").hidden = false;
  clearBanners();
  route();
});

$("#token-forget").addEventListener("click", () => {
  setToken("");
  abortView();
  clearBanners();
  $("#view").replaceChildren();
  askToken();
});

// ---- the header: who am I, and whether the daemon answers ----------------------

function showWho(me) {
  $("#whoami").hidden = !me;
  if (me) {
    $("#whoami-name").textContent = me.name || "token #" + me.id;
    $("#whoami-scope").textContent = me.scope;
    $("#whoami").title = "the token in use: " + (me.name ? "\"" + me.name + "\", " : "") + "id " + me.id +
      ", scope " + me.scope;
  }
  // nav links that need a scope (data-scope) show only to tokens that have it
  for (const a of document.querySelectorAll("nav#nav a[data-scope]")) {
    a.hidden = !(me && scopeAllows(me.scope, a.dataset.scope) && served(a));
  }
}

async function refreshWho() {
  if (!getToken()) return showWho(null);
  try {
    showWho(await whoami());
  } catch (_) {
    showWho(null); // a daemon without GET /whoami, or away: the header says nothing
  }
}

onConnectivity((down) => {
  document.body.classList.toggle("offline", down);
  $("#offline").hidden = !down;
  // a page that could not load because of it loads now
  if (!down && $("#view #unreachable")) route();
});

// ---- routing --------------------------------------------------------------------

// [path pattern, page(view, match, params), nav entry, title]: the pattern is
// matched against the hash's path (before any "?", without a trailing "/");
// params are the hash's query (URLSearchParams), where pages keep their
// filters (hashParams, setHashParams in lib.js). The nav entry is the
// data-route of the link in nav#nav to highlight (none when no link has it).
// The title (a string, or a function of the match) is the tab's title while
// the page loads; a page may say more with setTitle (lib.js); without one,
// the tab takes the text of the page's h1.
const routes = [
  [/^#?\/?$/, (v, m, q) => projectsPage(v, q), "projects", "Projects"],
  [/^#\/projects$/, (v, m, q) => projectsPage(v, q), "projects", "Projects"],
  [/^#\/projects\/([^/]+)$/, (v, m, q) => projectPage(v, decodeURIComponent(m[1]), q), "projects", (m) => decodeURIComponent(m[1])],
  [/^#\/builds\/(\d+)$/, (v, m, q) => buildPage(v, m[1], q), "builds", (m) => "Build " + m[1]],
  [/^#\/builds$/, (v, m, q) => allBuildsPage(v, q), "builds", "Builds"],
  [/^#\/queue$/, (v, m, q) => queuePage(v, q), "queue", "Queue"],
  [/^#\/targets$/, (v) => targetsPage(v), "targets", "Targets"],
  [/^#\/tokens$/, (v, m, q) => tokensPage(v, q), "tokens", "Tokens"],
  [/^#\/compare\/(\d+)(?:\/(\d+))?$/, (v, m) => comparePage(v, m[1], m[2]), "builds", (m) => "Compare " + m[1] + (m[2] ? " and " + m[2] : "")],
  [/^#\/builds\/(\d+)\/size$/, (v, m) => sizePage(v, m[1]), "builds", (m) => "Image size of build " + m[1]],
  [/^#\/projects\/([^/]+)\/trends$/, (v, m, q) => trendsPage(v, decodeURIComponent(m[1]), q), "projects", (m) => "Trends of " + decodeURIComponent(m[1])],
];

// nav links show when a route serves their address (a module adds its route
// line, its link appears); those that need a scope wait for refreshWho
const served = (a) => routes.some(([re]) => re.test(a.getAttribute("href")));
for (const a of document.querySelectorAll("nav#nav a[data-route]:not([data-scope])")) a.hidden = !served(a);

function notFoundPage(view, what) {
  view.replaceChildren(h("section", { id: "not-found" }, h("h1", {}, "Not found"),
    h("p", {}, what), h("p", {}, h("a", { href: "#/projects" }, "All projects"))));
  routeTitle("Not found");
}

function unreachablePage(view) {
  view.replaceChildren(h("section", { id: "unreachable" }, h("h1", {}, "The daemon cannot be reached"),
    h("p", {}, "The dashboard asked mgd at " + location.host + " and got no answer: it is stopped, restarting, " +
      "or the network is down. This page loads by itself when the daemon answers again."),
    h("p", {}, h("button", { type: "button", id: "unreachable-retry", class: "plain", onclick: () => route() }, "Try now"))));
  routeTitle("Unreachable");
}

// Scroll positions by history entry (historyKey): saved as the user
// scrolls, restored when Back or Forward returns to the entry.
history.scrollRestoration = "manual";
const scrollPositions = new Map();
let rendering = false;
let scrollSaveQueued = false;
window.addEventListener("scroll", () => {
  if (rendering || scrollSaveQueued) return;
  scrollSaveQueued = true;
  requestAnimationFrame(() => {
    scrollSaveQueued = false;
    if (!rendering && history.state && history.state.key) scrollPositions.set(history.state.key, window.scrollY);
  });
}, { passive: true });

// Scrolls to y and keeps it there while the page settles: parts render
// after its first answer and images load, and the browser's scroll anchoring
// would otherwise shift the position as content above it grows. Holds for up
// to 5 s, until the user scrolls or navigates.
function restoreScroll(y, signal) {
  window.scrollTo(0, y);
  // a new visit starts at the top and is the page's own (it may scroll to
  // a log line it was asked for): nothing to hold
  if (y === 0) return;
  const stop = new AbortController();
  const hold = () => { if (Math.abs(window.scrollY - y) >= 2) window.scrollTo(0, y); };
  const mutations = new MutationObserver(hold);
  const resizes = new ResizeObserver(hold);
  const done = () => { mutations.disconnect(); resizes.disconnect(); stop.abort(); };
  mutations.observe($("#view"), { childList: true, subtree: true, characterData: true });
  resizes.observe($("#view"));
  for (const ev of ["wheel", "touchstart", "keydown", "mousedown"]) window.addEventListener(ev, done, { once: true, signal: stop.signal });
  signal.addEventListener("abort", done, { once: true, signal: stop.signal });
  setTimeout(done, 5000);
}

// Resolves when the view has an h1 (the page has drawn its head) or `done`
// settles, whichever comes first.
function firstRender(view, done) {
  return new Promise((resolve) => {
    if (view.querySelector("h1")) return resolve();
    const obs = new MutationObserver(() => { if (view.querySelector("h1")) { obs.disconnect(); resolve(); } });
    obs.observe(view, { childList: true, subtree: true });
    done.then(() => { obs.disconnect(); resolve(); }, () => { obs.disconnect(); resolve(); });
  });
}

let firstRoute = true;
let routeSeq = 0;

async function route() {
  const signal = newView();
  const seq = ++routeSeq;
  clearBanners();
  if (!getToken()) {
    askToken();
    return;
  }
  $("#token-form").hidden = true;
  $("#token-forget").hidden = false;
  refreshWho();
  const view = $("#view");
  view.hidden = false;
  view.replaceChildren();
  const [key, revisit] = historyKey();
  const scrollBack = revisit ? (scrollPositions.get(key) || 0) : 0;
  rendering = true;
  const hash = location.hash || "#/projects";
  let path = hash.split("?")[0];
  if (path.length > 2 && path.endsWith("/")) path = path.replace(/\/+$/, "");
  const r = routes.find(([re]) => re.test(path));
  // a link still hidden (showWho shows the scoped ones once GET /whoami
  // answers) is marked too: it shows current when it appears
  for (const a of document.querySelectorAll("nav#nav a[data-route]")) {
    const on = !!r && a.dataset.route === r[2];
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  let done;
  if (!r) {
    notFoundPage(view, "Nothing is at " + hash + ".");
    done = Promise.resolve();
  } else if (isOffline() && !(await probe())) {
    if (seq !== routeSeq) return;
    unreachablePage(view);
    done = Promise.resolve();
  } else {
    const m = path.match(r[0]);
    routeTitle(typeof r[3] === "function" ? r[3](m) : r[3] || "");
    done = (async () => {
      try {
        await r[1](view, m, hashParams());
      } catch (e) {
        if (signal.aborted) return;
        // a page that fails before drawing its head: a page saying why, not a bare banner
        const headless = !view.querySelector("h1");
        if (headless && e instanceof ApiError && e.status === 404) notFoundPage(view, e.message + ".");
        else if (headless && e instanceof ApiError && e.status === 0) unreachablePage(view);
        else report(e);
      }
    })();
  }
  await firstRender(view, done);
  if (seq !== routeSeq) return;
  if (!r || !r[3]) {
    const h1 = view.querySelector("h1");
    if (h1 && !titleSetByPage() && !view.querySelector("#not-found, #unreachable")) routeTitle(h1.textContent.trim());
  }
  rendering = false;
  if (!firstRoute) {
    // keyboard and screen-reader users land on the new page's heading, and
    // hear its title; focus the user put into the page meanwhile stays
    const h1 = view.querySelector("h1");
    const active = document.activeElement;
    if (h1 && !(active && active !== document.body && view.contains(active))) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
    const live = $("#announce");
    live.textContent = "";
    requestAnimationFrame(() => { live.textContent = document.title; });
  }
  firstRoute = false;
  restoreScroll(scrollBack, signal);
}

// The skip link moves focus to the page's heading (or main) without
// touching the hash the router reads.
$("#skip-link").addEventListener("click", (ev) => {
  ev.preventDefault();
  const target = $("#view").hidden ? $("#main") : ($("#view h1") || $("#main"));
  if (target !== $("#main")) target.tabIndex = -1;
  target.focus();
});

setUnauthorizedHandler(askToken);
window.addEventListener("hashchange", route);
route();
