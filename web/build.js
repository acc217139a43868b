// A build's page: its facts, image, live log and resolved device graph.
import { TERMINAL, sseReader, h, when, duration, size, enc, ApiError, call, getJSON, report, sleep, viewSignal } from "./lib.js";

// ---- a build ---------------------------------------------------------------------

const utf8 = new TextEncoder();

// Follows the log into `pre`: server-sent events read from a fetch()
// (EventSource cannot send the token), each line's event id being the byte
// offset after it; if the stream drops, asks for the log from that offset
// until the daemon says it is complete, again after a second while the
// daemon cannot be reached (it restarts), as mgctl does. Resolves when the
// log is complete.
async function followLog(id, pre, signal) {
  let offset = 0;
  const append = (text) => {
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(text);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  };
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
        append(ev.data + (extra === 2 ? "\r\n" : extra === 1 ? "\n" : ""));
        offset = next;
      }
      if (ended) return;
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
      await sleep(1000, signal);
      continue;
    }
    const text = decoder.decode(bytes, { stream: true });
    if (text) append(text);
    offset += bytes.length;
    if (res.headers.get("X-More-Data") === "false" && offset >= Number(res.headers.get("X-Log-Size"))) {
      const rest = decoder.decode();
      if (rest) append(rest);
      return;
    }
    await sleep(1000, signal);
  }
}

function fact(field, label, value) {
  return [h("dt", {}, label), h("dd", { dataset: { field } }, value)];
}

function buildFacts(b) {
  const keys = Object.entries(b.keys || {}).map(([k, v]) => k + "=" + v).join(" ");
  const ids = (list) => list && list.length ? list.map((x, i) => [i ? ", " : "", h("a", { href: "#/builds/" + x }, "#" + x)]) : "-";
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
    fact("finished_at", "finished", b.finished_at || "-"),
    fact("duration", "duration", duration(b.duration_ms)),
    b.worker ? fact("worker", "worker", b.worker) : null,
    fact("cache", "cache", b.cache ? b.cache.hits + " hits, " + b.cache.misses + " misses of " + b.cache.actions + " actions" : "-"),
    b.reused_from ? fact("reused_from", "reused from", h("a", { href: "#/builds/" + b.reused_from }, "#" + b.reused_from)) : null,
    b.rebuild_of ? fact("rebuild_of", "rebuild of", h("a", { href: "#/builds/" + b.rebuild_of }, "#" + b.rebuild_of)) : null,
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

export async function buildPage(view, id) {
  const signal = viewSignal();
  let b = await getJSON("/builds/" + id);
  const status = h("span", { id: "build-status", class: "status status-" + b.status }, b.status);
  const cancelBtn = h("button", { class: "plain", type: "button" }, "Cancel");
  const rebuildBtn = h("button", { class: "plain", type: "button" }, "Rebuild");
  const facts = h("div", {}, buildFacts(b));
  const image = h("div", {}, imageBox(b));
  const error = h("p", { id: "build-error", class: "banner error", hidden: !b.error }, b.error || "");
  const log = h("pre", { id: "build-log", class: "log" });
  const devices = h("div", {}, h("p", { class: "empty" }, "Not resolved yet."));
  view.append(h("h1", { id: "build-title" }, "Build " + b.id), h("p", {}, status, " ", cancelBtn, " ", rebuildBtn),
    error, h("div", { class: "grid2" }, h("section", {}, h("h2", {}, "Facts"), facts),
      h("section", {}, h("h2", {}, "Image"), image)),
    h("h2", {}, "Log"), log, h("h2", {}, "Resolved device graph"), devices);

  function show(nb) {
    b = nb;
    status.textContent = b.status;
    status.className = "status status-" + b.status;
    facts.replaceChildren(buildFacts(b));
    image.replaceChildren(imageBox(b));
    error.textContent = b.error || "";
    error.hidden = !b.error;
    cancelBtn.hidden = TERMINAL.includes(b.status);
    rebuildBtn.hidden = !TERMINAL.includes(b.status);
  }
  show(b);
  cancelBtn.addEventListener("click", async () => {
    try { show(await (await call("POST", "/builds/" + b.id + "/cancel")).json()); } catch (e) { report(e); }
  });
  rebuildBtn.addEventListener("click", async () => {
    try { location.hash = "#/builds/" + (await (await call("POST", "/builds/" + b.id + "/rebuild")).json()).id; }
    catch (e) { report(e); }
  });
  let describeShown = false;
  async function showDescribe() {
    if (describeShown) return;
    try {
      devices.replaceChildren(devicesTable(await getJSON("/builds/" + b.id + "/describe")));
      describeShown = true;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }
  // the record while the build runs; the log until it is complete
  const polling = (async () => {
    while (!TERMINAL.includes(b.status)) {
      await sleep(1000, signal);
      show(await getJSON("/builds/" + b.id));
      await showDescribe();
    }
  })().catch((e) => report(e));
  await showDescribe().catch(report);
  await followLog(b.id, log, signal);
  await polling;
  show(await getJSON("/builds/" + b.id));
  await showDescribe();
}
