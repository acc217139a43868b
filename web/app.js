// mgd's dashboard: a single page over the daemon's REST API (docs/api.md).
// No framework and no build step: the files of web/ are ES modules served as
// they are, embedded into mgd; this one is the entry point (the token form
// and the router), the pages live in modules of their own and share lib.js. Everything the page shows comes from the API with the token the
// user entered (kept in localStorage); text from the server is only ever
// put into the page as text (textContent), never as HTML, and the device
// graph's SVG is shown as an <img>, where it cannot run anything.
import { $, h, getToken, setToken, newView, abortView, setUnauthorizedHandler, clearBanners, report, hashParams } from "./lib.js";
import { projectPage } from "./projects.js";
import { projectsPage } from "./projectlist.js";
import { buildPage } from "./build.js";
import { queuePage, allBuildsPage } from "./builds.js";
import { targetsPage } from "./targets.js";

// ---- the token ------------------------------------------------------------------

function askToken() {
  $("#token-form").hidden = false;
  $("#view").hidden = true;
  $("#token-forget").hidden = true;
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

// ---- routing --------------------------------------------------------------------

// [path pattern, page(view, match, params), nav entry]: the pattern is
// matched against the hash's path (before any "?"); params are the hash's
// query (URLSearchParams), where pages keep their filters (hashParams,
// setHashParams in lib.js).
const routes = [
  [/^#?\/?$/, (v, m, q) => projectsPage(v, q), "projects"],
  [/^#\/projects\/?$/, (v, m, q) => projectsPage(v, q), "projects"],
  [/^#\/projects\/([^/]+)$/, (v, m, q) => projectPage(v, decodeURIComponent(m[1]), q), "projects"],
  [/^#\/builds\/(\d+)$/, (v, m, q) => buildPage(v, m[1], q), "queue"],
  [/^#\/builds$/, (v, m, q) => allBuildsPage(v, q), "builds", "Builds"],
  [/^#\/queue$/, (v, m, q) => queuePage(v, q), "queue"],
  [/^#\/targets$/, (v) => targetsPage(v), "targets"],
];

async function route() {
  newView();
  clearBanners();
  if (!getToken()) {
    askToken();
    return;
  }
  $("#token-form").hidden = true;
  $("#token-forget").hidden = false;
  const view = $("#view");
  view.hidden = false;
  view.replaceChildren();
  const hash = location.hash || "#/projects";
  const path = hash.split("?")[0];
  const r = routes.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", !!r && a.dataset.route === r[2]);
  if (!r) {
    view.append(h("h1", {}, "Not found"), h("p", {}, "Nothing is at " + hash + ". ", h("a", { href: "#/projects" }, "Projects")));
    return;
  }
  try {
    await r[1](view, path.match(r[0]), hashParams());
  } catch (e) {
    report(e);
  }
}

setUnauthorizedHandler(askToken);
window.addEventListener("hashchange", route);
route();
