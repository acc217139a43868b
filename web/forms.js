// The build form's and the graph's configure-key fields, and what the daemon
// says about targets (cached for the page's life: the registry is fixed
// while the daemon runs).
import { h, enc, ApiError, call, getJSON } from "./lib.js";

// keys (but target and arch, which have fields of their own), with their
// type and allowed values when the config or the catalog declares them.
// `version`: resolve that config version instead of the latest (`config`
// is then that version's document).
export async function configureKeys(project, config, target, arch, version) {
  const body = { target };
  if (arch) body.arch = arch;
  if (version) body.version = Number(version);
  let described;
  try {
    described = await (await call("POST", "/projects/" + enc(project) + "/check", { body })).json();
  } catch (e) {
    if (e instanceof ApiError && e.status === 422) return [];
    throw e;
  }
  const declared = Object.assign({}, (config && config.keys) || {});
  const catalog = await catalogKeys();
  return Object.entries(described.keys || {})
    .filter(([name]) => name !== "target" && name !== "arch")
    .map(([name, value]) => {
      const d = declared[name] || catalog[name] || {};
      return { name, value: String(value), type: d.type || "string",
        values: d.values || (d.type === "bool" ? ["true", "false"] : null), doc: d.doc || "" };
    });
}

let catalogCache = null;
async function catalogKeys() {
  if (!catalogCache) {
    const cat = await getJSON("/devices");
    catalogCache = {};
    for (const e of cat.entries || []) Object.assign(catalogCache, e.keys || {});
  }
  return catalogCache;
}

// The target a build gets when none is named: the server's registry says
// which (GET /targets, "default").
let defaultTargetCache = null;
export async function defaultTarget() {
  if (!defaultTargetCache) defaultTargetCache = (await getJSON("/targets")).find((t) => t.default).name;
  return defaultTargetCache;
}

let targetsCache = null;
export async function availableTargets() {
  if (!targetsCache) {
    const all = await getJSON("/targets");
    targetsCache = all.map((t) => ({ name: t.name, arches: t.arches.filter((a) => a.available).map((a) => a.name) }))
      .filter((t) => t.arches.length);
  }
  return targetsCache;
}

function keyField(k, prefix) {
  const id = prefix + "-key-" + k.name;
  const input = k.values
    ? h("select", { id, name: k.name, dataset: { key: k.name } },
      k.values.map((v) => h("option", { value: String(v), selected: String(v) === k.value }, String(v))))
    : k.type === "int"
      // the daemon checks the range (a 64-bit integer) and answers 422
      ? h("input", { id, name: k.name, value: k.value, type: "number", step: 1, inputmode: "numeric", dataset: { key: k.name } })
      : h("input", { id, name: k.name, value: k.value, dataset: { key: k.name } });
  return h("div", { class: "field" }, h("label", { for: id, title: k.doc }, k.name), input);
}

// Puts fresh key fields into `container`, keeping what the user chose in
// the fields they replace (a change of target keeps the keys that remain);
// `old` are the defaults those fields had: a field left at its default gets
// the new one (a key's default may depend on the target).
export function setKeyFields(container, keys, prefix, old) {
  const chosen = keysFrom(container, old);
  container.replaceChildren(...keys.map((k) => keyField(k, prefix)));
  for (const el of container.querySelectorAll("[data-key]")) {
    const v = chosen[el.dataset.key];
    if (v !== undefined && (el.tagName !== "SELECT" || [...el.options].some((o) => o.value === v))) el.value = v;
  }
}

export function keysFrom(container, defaults) {
  const keys = {};
  for (const el of container.querySelectorAll("[data-key]")) {
    const d = defaults.find((k) => k.name === el.dataset.key);
    if (!d || el.value !== d.value) keys[el.dataset.key] = el.value;
  }
  return keys;
}

// The field of `container` a 422's detail is about, or null: the details
// of a build or check request name a key by its path ("/keys/NAME", or the
// key's name alone, as the resolver says it).
export function keyFieldOf(container, path) {
  const name = String(path || "").replace(/^\//, "").replace(/^keys\//, "");
  if (!name) return null;
  return [...container.querySelectorAll("[data-key]")].find((el) => el.dataset.key === name) || null;
}

// Marks `el` as refused with `message` next to it (aria-invalid, the
// message as its description) until the user changes it.
export function markInvalid(el, message) {
  clearInvalid(el);
  const note = h("span", { id: el.id + "-error", class: "field-error" }, message);
  el.setAttribute("aria-invalid", "true");
  el.setAttribute("aria-describedby", note.id);
  el.parentElement.append(note);
  const clear = () => clearInvalid(el);
  el.addEventListener("input", clear, { once: true });
  el.addEventListener("change", clear, { once: true });
}

export function clearInvalid(el) {
  if (!el.hasAttribute("aria-invalid")) return;
  el.removeAttribute("aria-invalid");
  el.removeAttribute("aria-describedby");
  const note = document.getElementById(el.id + "-error");
  if (note) note.remove();
}
