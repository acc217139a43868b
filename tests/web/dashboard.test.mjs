// Browser tests of mgd's web dashboard (web/, served by `mgd serve` at /).
//
//   node dashboard.test.mjs MGD [EXAMPLES_DIR] [SCREENSHOT_DIR]
//
// Starts `mgd serve` on a free port with a data directory of its own,
// creates two projects through the REST API ("hello" from examples/hello and
// "broken", whose unikernel.c does not compile), then drives Debian's
// Chromium (/usr/bin/chromium, headless, a fresh profile) with
// playwright-core through the flows of the dashboard: the token form, the
// projects page, a project (config, graph), a build that succeeds (live log,
// facts, image download), one that fails, the queue and targets pages, and a
// read token that may not build (403); then regressions of the review: a
// configure key named like a form field ("forcekey"), key defaults that
// differ per target, the log's poll fallback and the graph's blob: URL (the
// daemon's answers pretended with page.route where it cannot give them:
// a second target, a log cut inside a character, a daemon that restarts).
// Every request the page makes outside
// the daemon's origin fails the test: the dashboard needs no network beyond
// the daemon. Each step saves a full-page screenshot to SCREENSHOT_DIR as
// NN-name.png.
//
// The flows run in order; a failed check is reported and the flow goes on
// where it can, so one run lists every mismatch. The exit status is 0 when
// everything passed. The daemon is stopped with SIGTERM (it must exit 0) and
// its stderr must hold no sanitizer report.
//
// Environment: MGD_TEST_CACHE (passed as --cache, so the runtime is compiled
// once for the whole suite), MGD_TEST_KEEP=1 keeps the temporary directory,
// MGD_TEST_FLOWS=REGEX runs only the flows whose names match (and the login).
// Set-up: scripts/web-test-deps.sh (Node.js, chromium, npm ci here).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = path.resolve(HERE, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const TOTAL_TIMEOUT_MS = 540_000; // CTest's TIMEOUT is 600 s
const BUILD_TIMEOUT_MS = 180_000;
const UI_TIMEOUT_MS = 15_000;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'interrupted'];
const STATUSES = ['queued', 'running', ...TERMINAL];
const FACTS = ['target', 'arch', 'keys', 'commit', 'config_version', 'input_hash', 'created_at',
  'started_at', 'finished_at', 'duration', 'cache', 'reproduced_by', 'differs_from', 'reproduces'];
// Said without the words themselves, so that this program's own output never
// matches CTest's FAIL_REGULAR_EXPRESSION.
const SANITIZER_RE = new RegExp(['runtime', 'error'].join(' ') + '|' + 'Sani' + 'tizer');

const started = Date.now();
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1) + ' s';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(`[${elapsed().padStart(7)}]`, ...a);

// -- arguments and prerequisites --------------------------------------------

const MGD = process.argv[2] || process.env.MGD;
const EXAMPLES = path.resolve(process.argv[3] || path.join(SOURCE_DIR, 'examples'));
const SHOTS = path.resolve(process.argv[4] || path.join(process.cwd(), 'web-screenshots'));

function die(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}

if (!MGD) die('usage: node dashboard.test.mjs MGD [EXAMPLES_DIR] [SCREENSHOT_DIR]');
if (!fs.existsSync(MGD)) die(`no mgd at ${MGD}`);
if (!fs.existsSync(path.join(EXAMPLES, 'hello', 'config.json'))) die(`no examples/hello in ${EXAMPLES}`);
const PW_INDEX = path.join(HERE, 'node_modules', 'playwright-core', 'index.mjs');
if (!fs.existsSync(PW_INDEX)) {
  die(`${path.join(HERE, 'node_modules', 'playwright-core')} is missing: ` +
      'run scripts/web-test-deps.sh (it installs Node.js, chromium and the npm packages of tests/web)');
}
if (!fs.existsSync(CHROMIUM)) {
  die(`${CHROMIUM} is missing: run scripts/web-test-deps.sh (it installs the chromium package)`);
}
const { chromium } = await import(pathToFileURL(PW_INDEX).href);
// axe-core (tests/web/package.json): the accessibility checks of t.axe
const AXE_JS = path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js');
if (!fs.existsSync(AXE_JS)) {
  die(`${AXE_JS} is missing: run scripts/web-test-deps.sh (it runs npm ci in tests/web)`);
}
const AXE_SOURCE = fs.readFileSync(AXE_JS, 'utf8');
// MGD_TEST_FLOWS=REGEX runs only the flows whose names match (and the login
// the others need): for working on one suite.
const ONLY = process.env.MGD_TEST_FLOWS ? new RegExp(process.env.MGD_TEST_FLOWS) : null;

// -- results ------------------------------------------------------------------

const failures = []; // {flow, msg}
const notes = []; // not failures: what the brief allows but the contract words differently
let currentFlow = 'setup';

let aborted = false; // interrupted or out of time: what fails after that is noise

function check(cond, msg) {
  if (cond) return true;
  if (aborted) return false;
  failures.push({ flow: currentFlow, msg });
  log(`  not ok: ${msg}`);
  return false;
}

function note(msg) {
  notes.push(`${currentFlow}: ${msg}`);
  log(`  note: ${msg}`);
}

// Polls fn until it returns a truthy value; throws after timeout with the
// last value or error it saw.
async function until(what, fn, timeout = UI_TIMEOUT_MS, interval = 100) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message.split('\n')[0] : JSON.stringify(last);
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what} (last: ${detail})`);
    }
    await sleep(interval);
  }
}

const short = (s, n = 300) => {
  if (s === null || s === undefined) return String(s);
  s = String(s);
  return s.length > n ? JSON.stringify(s.slice(0, n)) + `... (${s.length} chars)` : JSON.stringify(s);
};

// -- the daemon -----------------------------------------------------------------

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'mgd-web-'));
const DATA = path.join(TMP, 'data');
const daemon = { proc: null, stderr: '', exit: null, origin: null, token: null };

function startDaemon() {
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', DATA, '--workers', '2', '--jobs', '2'];
  if (process.env.MGD_TEST_CACHE) args.push('--cache', process.env.MGD_TEST_CACHE);
  // setpriv --pdeathsig: the daemon gets SIGKILL if this process dies without
  // stopping it (a CTest timeout); setpriv execs mgd, so the pid is mgd's.
  const setpriv = '/usr/bin/setpriv';
  const [cmd, argv] = fs.existsSync(setpriv)
    ? [setpriv, ['--pdeathsig', 'KILL', MGD, ...args]]
    : [MGD, args];
  log(`starting: ${MGD} ${args.join(' ')}`);
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  daemon.proc = proc;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => { daemon.exit = { code, signal }; resolve(); });
  });
  daemon.exited = exited;
  proc.stderr.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mgd serve did not start within 60 s; stderr:\n${daemon.stderr}`)), 60_000);
    proc.stderr.on('data', (chunk) => {
      daemon.stderr += chunk;
      const m = /mgd: listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(daemon.stderr);
      if (m && !daemon.origin) {
        daemon.origin = m[1];
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    exited.then(() => {
      clearTimeout(timer);
      if (!daemon.origin) reject(new Error(`mgd serve exited (${JSON.stringify(daemon.exit)}) before listening; stderr:\n${daemon.stderr}`));
    });
  });
}

async function stopDaemon() {
  const proc = daemon.proc;
  if (!proc) return;
  daemon.proc = null;
  if (daemon.exit === null) {
    proc.kill('SIGTERM');
    const timeout = sleep(15_000).then(() => 'timeout');
    if ((await Promise.race([daemon.exited, timeout])) === 'timeout') {
      proc.kill('SIGKILL');
      await daemon.exited;
      failures.push({ flow: 'daemon', msg: 'mgd did not exit within 15 s of SIGTERM' });
      return;
    }
  }
  if (!(daemon.exit.code === 0 && daemon.exit.signal === null)) {
    failures.push({ flow: 'daemon', msg: `mgd must exit 0 on SIGTERM, got ${JSON.stringify(daemon.exit)}` });
  }
}

// -- the REST API -----------------------------------------------------------------

async function api(method, urlPath, { body, token = daemon.token, accept } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (accept) headers.Accept = accept;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(daemon.origin + urlPath, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const r = { status: res.status, headers: res.headers, body: buf, text: buf.toString('utf8') };
  r.json = () => {
    try { return JSON.parse(r.text); } catch { throw new Error(`${method} ${urlPath}: ${r.status}, not JSON: ${short(r.text)}`); }
  };
  return r;
}

async function apiOk(method, urlPath, expect, opts) {
  const r = await api(method, urlPath, opts);
  assert.equal(r.status, expect, `${method} ${urlPath}: expected ${expect}, got ${r.status}: ${short(r.text)}`);
  return r;
}

// -- the browser ----------------------------------------------------------------------

let browser = null;
let context = null;
let page = null;
const foreign = new Set(); // requests that left the daemon's origin
const pageErrors = [];
const consoleErrors = [];
let shotNo = 0;

async function shot(name) {
  const file = path.join(SHOTS, `${String(++shotNo).padStart(2, '0')}-${name.replace(/[^\w.-]+/g, '-')}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    log(`  screenshot ${path.basename(file)}`);
  } catch (e) {
    log(`  screenshot ${path.basename(file)} failed: ${e.message.split('\n')[0]}`);
  }
}

function onDaemon(url) {
  if (url.startsWith('data:')) return true;
  try {
    return new URL(url).origin === daemon.origin; // blob:http://127.0.0.1:PORT/... too
  } catch {
    return false;
  }
}

async function launch() {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (onDaemon(url)) return route.continue();
    foreign.add(url);
    return route.abort('blockedbyclient');
  });
  // also what routing does not see (service workers, ...)
  context.on('request', (req) => { if (!onDaemon(req.url())) foreign.add(req.url()); });
  page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  page.on('pageerror', (e) => { pageErrors.push(`${page.url()}: ${e.message}`); log(`  page error: ${e.message}`); });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`); });
  log(`chromium ${browser.version()} (playwright-core)`);
}

const text = async (sel) => {
  const loc = page.locator(sel);
  return (await loc.count()) ? ((await loc.first().textContent()) ?? '') : null;
};
const visible = (sel) => page.locator(sel).first().isVisible();
const hashOf = () => new URL(page.url()).hash;
const storedToken = () => page.evaluate(() => localStorage.getItem('mgd.token'));

async function waitVisible(sel, timeout = UI_TIMEOUT_MS) {
  await page.locator(sel).first().waitFor({ state: 'visible', timeout });
}

async function waitTextMatch(sel, re, timeout = UI_TIMEOUT_MS) {
  return until(`${sel} to match ${re}`, async () => {
    const t = await text(sel);
    return t !== null && re.test(t) ? t : false;
  }, timeout);
}

// The token form, filled and submitted (showing it first when a token is
// stored).
async function enterToken(token) {
  if (!(await visible('#token-form'))) {
    await page.click('#token-forget');
    await waitVisible('#token-form');
  }
  await page.fill('#token-input', token);
  await page.click('#token-save');
}

// A nav link of nav#nav, by its href.
async function nav(href) {
  await page.click(`nav#nav a[href="${href}"]`);
  await until(`the page to go to ${href}`, async () => hashOf() === href);
}

async function openProject(name) {
  await nav('#/projects');
  await waitVisible(`table#projects tr[data-project="${name}"] a.project-link`);
  await page.click(`table#projects tr[data-project="${name}"] a.project-link`);
  await until(`the page to go to #/projects/${name}`, async () => hashOf() === `#/projects/${name}`);
  await waitTextMatch('#project-name', new RegExp(`^\\s*${name}\\s*$`));
}

// Starts a build of the open project from #build-form (target unix); answers
// the build id the page went to.
async function startBuildFromForm() {
  await waitVisible('form#build-form');
  const target = 'form#build-form select[name=target]';
  await until('the unix option of the build form\'s target', () => page.locator(`${target} option[value="unix"]`).count());
  await page.selectOption(target, 'unix');
  await page.click('#build-start');
  const hash = await until('the page to go to #/builds/ID', async () => /^#\/builds\/\d+$/.test(hashOf()) && hashOf(), 30_000);
  return Number(hash.slice('#/builds/'.length));
}

// Follows #build-status until it is terminal; answers what it saw.
async function followBuild(id, timeout) {
  await waitTextMatch('#build-title', new RegExp(`Build\\s+${id}\\b`));
  const seen = { statuses: [], logWhileRunning: false, runningMs: 0, logLengths: new Set(), final: null };
  const deadline = Date.now() + timeout;
  let lastT = Date.now();
  while (Date.now() < deadline) {
    const s = await page.evaluate(() => ({
      status: document.querySelector('#build-status')?.textContent ?? null,
      log: document.querySelector('#build-log')?.textContent ?? null,
    }));
    const now = Date.now();
    const status = (s.status ?? '').trim();
    if (status && seen.statuses[seen.statuses.length - 1] !== status) {
      seen.statuses.push(status);
      log(`  #build-status: ${status}`);
    }
    if (TERMINAL.includes(status)) { seen.final = status; break; }
    if (status === 'running') {
      seen.runningMs += now - lastT;
      if (s.log && s.log.trim()) {
        seen.logWhileRunning = true;
        seen.logLengths.add(s.log.length);
      }
    } else if ((status === 'queued' || status === '') && s.log && s.log.trim()) {
      seen.logWhileRunning = true;
      seen.logLengths.add(s.log.length);
    }
    lastT = now;
    await sleep(100);
  }
  for (const st of seen.statuses) check(STATUSES.includes(st), `#build-status is ${short(st)}, not one of ${STATUSES.join('/')}`);
  return seen;
}

async function apiWaitTerminal(id, timeout = 30_000) {
  return until(`build ${id} to finish (API)`, async () => {
    const b = (await apiOk('GET', `/builds/${id}`, 200)).json();
    return TERMINAL.includes(b.status) ? b : false;
  }, timeout, 250);
}

// -- accessibility ------------------------------------------------------------------------------

// Runs axe-core on the page as it is (light or dark: page.emulateMedia first)
// and fails the flow on every violation of impact serious or critical, but
// those whose every node matches one of `pending` (selectors of pages other
// helpers own and fix on their branches: noted, not failed). Answers the
// violations. The page's CSP (script-src 'self') refuses an inline <script>,
// so when page.addScriptTag cannot add axe, it is evaluated through the
// DevTools protocol, which the CSP does not govern.
async function axe(pageName, { pending = [] } = {}) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    let how = 'page.addScriptTag';
    try {
      await page.addScriptTag({ content: AXE_SOURCE });
    } catch { /* refused by the CSP */ }
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
      how = 'page.evaluate (the CSP refused the script tag)';
      await page.evaluate(AXE_SOURCE);
    }
    if (!axe.how) log(`  axe-core ${await page.evaluate(() => window.axe.version)} injected by ${(axe.how = how)}`);
  }
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) {
    const open = [];
    for (const n of v.nodes) {
      const known = pending.length && await page.evaluate(([sel, list]) => {
        const el = document.querySelector(sel);
        return !!el && list.some((p) => el.matches(p) || !!el.closest(p));
      }, [n.target, pending]).catch(() => false);
      if (known) note(`${pageName}: axe ${v.id} (${v.impact}) at ${n.target}: pending in another module`);
      else open.push(n);
    }
    if (open.length) {
      check(false, `${pageName}: axe ${v.id} (${v.impact}): ${v.help}; at ${open.slice(0, 5).map((n) =>
        `${n.target} [${short(n.summary, 160)}]`).join(', ')}${open.length > 5 ? ` and ${open.length - 5} more` : ''}`);
    }
  }
  return bad;
}

// The WCAG contrast ratio of two colours given as CSS strings (#rgb,
// #rrggbb, rgb(), rgba(), color(srgb ...)), after compositing `fg` over
// `bg` when it is translucent.
function parseColor(c) {
  c = c.trim();
  let m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
  if (m) {
    const hx = m[1].length === 3 ? [...m[1]].map((x) => x + x).join('') : m[1];
    return [0, 2, 4].map((i) => parseInt(hx.slice(i, i + 2), 16)).concat(1);
  }
  m = /^rgba?\(([^)]+)\)$/.exec(c);
  if (m) {
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  m = /^color\(srgb ([^)]+)\)$/.exec(c);
  if (m) {
    const p = m[1].split(/[\s/]+/).filter(Boolean).map(Number);
    return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
  }
  throw new Error(`cannot read the colour ${short(c)}`);
}
function contrast(fg, bg) {
  const b = parseColor(bg);
  let f = parseColor(fg);
  if (f[3] < 1) f = [0, 1, 2].map((i) => f[i] * f[3] + b[i] * (1 - f[3])).concat(1);
  const lum = (c) => {
    const [r, g, bl] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(f), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// -- the flows ------------------------------------------------------------------------------

async function flowLogin() {
  await page.goto(daemon.origin + '/');
  await waitVisible('form#token-form');
  check(await page.locator('form#token-form input#token-input').count() === 1, 'form#token-form has no input#token-input');
  check(await page.locator('form#token-form button#token-save').count() === 1, 'form#token-form has no button#token-save');
  check(!(await visible('#auth-error')), '#auth-error is visible before any request failed');
  await shot('token-form');

  // a well-formed token the daemon does not know: 401
  await enterToken('mgd_' + 'A'.repeat(43));
  const err = await until('#auth-error to be visible', async () => (await visible('#auth-error')) && (await text('#auth-error')));
  check(/401|token/i.test(err), `#auth-error after a wrong token does not mention 401 or "token": ${short(err)}`);
  if (!(/401/.test(err) && /token/i.test(err))) note(`the contract says the 401 message mentions "401" and "token": ${short(err)}`);
  await shot('wrong-token');

  await enterToken(daemon.token);
  for (const name of ['hello', 'broken']) {
    await waitVisible(`table#projects tr[data-project="${name}"]`);
    const link = page.locator(`table#projects tr[data-project="${name}"] a.project-link`);
    check(await link.count() === 1, `tr[data-project="${name}"] has no a.project-link`);
    if (await link.count()) {
      check(await link.getAttribute('href') === `#/projects/${name}`,
        `a.project-link of ${name} has href ${short(await link.getAttribute('href'))}, not #/projects/${name}`);
      check((await link.textContent()).includes(name), `a.project-link of ${name} does not show the name`);
    }
  }
  check(hashOf() === '' || hashOf() === '#/projects' || hashOf() === '#/', `the projects page is at ${hashOf()}, not #/projects`);
  check(!(await visible('#auth-error')), '#auth-error is still visible after the admin token was accepted');
  check(!(await visible('form#token-form')), 'form#token-form is still visible after the admin token was accepted');
  check(await storedToken() === daemon.token, `localStorage "mgd.token" is ${short(await storedToken())}, not the admin token`);
  for (const href of ['#/projects', '#/queue', '#/targets']) {
    check(await page.locator(`nav#nav a[href="${href}"]`).count() >= 1, `nav#nav has no link to ${href}`);
  }
  check(await page.locator('nav#nav #token-forget').count() === 1, 'button#token-forget is not in nav#nav');
  await shot('projects');

  await page.reload();
  await waitVisible('table#projects tr[data-project="hello"]');
  check(!(await visible('form#token-form')), 'the token form shows again after a reload (token not kept)');
  check(await storedToken() === daemon.token, 'the token is not in localStorage after a reload');
  await shot('projects-after-reload');
}

async function flowProject() {
  await openProject('hello');
  check((await text('h1#project-name'))?.trim() === 'hello', 'h1#project-name is not exactly "hello"');
  const doc = await until('pre#config-doc to show the config', async () => {
    const t = await text('pre#config-doc');
    return t && t.includes('"name"') ? t : false;
  });
  check(doc.includes('hello_start'), `pre#config-doc does not look like hello's config: ${short(doc)}`);
  check(await page.locator('select#config-version').count() === 1, 'no select#config-version');
  check(await page.locator('select#config-version option').count() >= 1, 'select#config-version has no option');
  // the history loads alongside the arch list and the graph keys, after the config
  try {
    await waitVisible('table#builds');
    const empty = await text('table#builds td.empty');
    check(empty === null || empty.includes('No builds'), `table#builds of a project without builds says ${short(empty)}`);
  } catch (e) {
    check(false, `no table#builds: ${e.message.split('\n')[0]}`);
  }
  check(await page.locator('select#filter-status').count() === 1, 'no select#filter-status');
  check(await page.locator('select#filter-target').count() === 1, 'no select#filter-target');
  check(await page.locator('select#graph-target').count() === 1, 'no select#graph-target');
  check(await page.locator('#graph-keys').count() === 1, 'no #graph-keys');
  const form = 'form#build-form';
  for (const f of ['select[name=target]', 'select[name=arch]', 'input[name=ref]', 'input[name=force]', 'button#build-start']) {
    check(await page.locator(`${form} ${f}`).count() === 1, `${form} has no ${f}`);
  }
  if (await page.locator(`${form} input[name=force]`).count()) {
    check(await page.locator(`${form} input[name=force]`).getAttribute('type') === 'checkbox', 'input[name=force] is not a checkbox');
  }
  await shot('project-hello');

  // the graph: an <img> of the SVG, from a blob: URL
  await page.click('button#graph-show');
  await waitVisible('#graph img#graph-img', 30_000);
  const img = await until('img#graph-img to load (naturalWidth > 0)', () => page.evaluate(() => {
    const i = document.querySelector('#graph img#graph-img');
    return i && i.complete && i.naturalWidth > 0 ? { w: i.naturalWidth, h: i.naturalHeight, src: i.src } : false;
  }), 30_000);
  check(img.src.startsWith('blob:'), `img#graph-img's src is not a blob: URL: ${short(img.src, 80)}`);
  log(`  graph image ${img.w}x${img.h}`);
  await shot('project-graph');

  const svg = await apiOk('GET', '/projects/hello/graph?format=svg', 200);
  check((svg.headers.get('content-type') ?? '').startsWith('image/svg+xml'), `graph?format=svg has Content-Type ${svg.headers.get('content-type')}`);
  check(svg.text.includes('<svg'), 'graph?format=svg holds no <svg');
  check(svg.text.includes('Generated by graphviz'), 'graph?format=svg is not "Generated by graphviz"');
  for (const label of ['console', 'main']) check(svg.text.includes(label), `graph?format=svg has no label ${label}`);
}

let helloBuild = null;

async function flowBuildSucceeds() {
  if (hashOf() !== '#/projects/hello') await openProject('hello');
  const id = await startBuildFromForm();
  log(`  build ${id} started from the form`);
  await shot('build-started');
  const seen = await followBuild(id, BUILD_TIMEOUT_MS);
  const b = await apiWaitTerminal(id);
  helloBuild = b;
  log(`  build ${id}: ${b.status} in ${b.duration_ms} ms; the page showed "running" for ${seen.runningMs} ms, ` +
      `${seen.logLengths.size} log sizes before the end`);
  assert.equal(seen.final, 'succeeded', `#build-status of build ${id} ended as ${short(seen.final)} (API: ${b.status}, error ${short(b.error)}), not succeeded`);
  assert.equal(b.status, 'succeeded', `the API says build ${id} is ${b.status}`);
  assert.equal(b.target, 'unix');
  if (seen.logWhileRunning) {
    log(`  #build-log showed lines before the build ended (${seen.logLengths.size} different lengths)`);
  } else if (seen.runningMs >= 3000) {
    check(false, `#build-log stayed empty while the page showed "running" for ${seen.runningMs} ms (no live log)`);
  } else {
    note(`the page showed "running" for ${seen.runningMs} ms only, with an empty log: the live log is not judged`);
  }

  const apiLog = (await apiOk('GET', `/builds/${id}/log`, 200)).text;
  check(apiLog.trim().length > 0, `GET /builds/${id}/log is empty`);
  try {
    await until('#build-log to equal GET /builds/ID/log', async () => ((await text('pre#build-log')) ?? '').trim() === apiLog.trim(), 15_000);
  } catch {
    const pageLog = ((await text('pre#build-log')) ?? '').trim();
    const want = apiLog.trim();
    let i = 0;
    while (i < pageLog.length && i < want.length && pageLog[i] === want[i]) i++;
    check(false, `pre#build-log (${pageLog.length} chars) differs from GET /builds/${id}/log (${want.length} chars) at char ${i}: ` +
      `page ${short(pageLog.slice(i, i + 80))} vs API ${short(want.slice(i, i + 80))}`);
  }

  check((await text('h1#build-title'))?.trim() === `Build ${id}`, `h1#build-title is ${short(await text('h1#build-title'))}, not "Build ${id}"`);
  for (const f of FACTS) check(await page.locator(`dl#build-facts dd[data-field="${f}"]`).count() === 1, `dl#build-facts has no dd[data-field="${f}"]`);
  const fact = async (f) => ((await text(`dl#build-facts dd[data-field="${f}"]`)) ?? '').trim();
  check(await fact('target') === 'unix', `the target fact is ${short(await fact('target'))}, not "unix"`);
  check((await fact('arch')).includes(b.arch), `the arch fact is ${short(await fact('arch'))}, not ${b.arch}`);
  const ih = await fact('input_hash');
  check(/\b[0-9a-f]{64}\b/.test(ih), `the input_hash fact holds no 64-hex hash: ${short(ih)}`);
  check(ih.includes(b.input_hash), `the input_hash fact is ${short(ih)}, the API says ${b.input_hash}`);
  // the devices come from GET /builds/ID/describe, asked for after each record (404 until the
  // worker resolved the config): when the page's first ask came before that, the table follows
  // the terminal status by one more request
  try {
    await until('table#build-devices to list the main device', async () => ((await text('table#build-devices')) ?? '').includes('main'));
  } catch { /* said by the checks below */ }
  check(await page.locator('table#build-devices').count() === 1, 'no table#build-devices');
  check(((await text('table#build-devices')) ?? '').includes('main'), 'table#build-devices does not list the main device');
  check(!(await visible('#build-error')), '#build-error is visible on a succeeded build');

  // the image
  const sha = ((await text('#image-sha256')) ?? '').trim();
  check(sha === b.image.sha256, `#image-sha256 is ${short(sha)}, the API says ${b.image.sha256}`);
  check(await page.locator('#image-size').count() === 1 && /\d/.test((await text('#image-size')) ?? ''), '#image-size shows no size');
  check(await page.locator('a#image-download').count() === 1, 'no a#image-download');
  await shot('build-succeeded');
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 30_000 }),
    page.click('a#image-download'),
  ]);
  const failure = await download.failure();
  assert.equal(failure, null, `the image download failed: ${failure}`);
  const file = await download.path();
  const got = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  log(`  downloaded ${download.suggestedFilename()}: ${fs.statSync(file).size} bytes`);
  check(got === b.image.sha256, `the downloaded image's sha256 is ${got}, the API says ${b.image.sha256}`);
  check(fs.statSync(file).size === b.image.size, `the downloaded image has ${fs.statSync(file).size} bytes, the API says ${b.image.size}`);
  check(!(await visible('#auth-error')) && !(await visible('#error')), `an error shows after the download: ${short(await text('#error'))}`);
}

let brokenBuild = null;

async function flowBuildFails() {
  await openProject('broken');
  const id = await startBuildFromForm();
  log(`  build ${id} started from the form`);
  const seen = await followBuild(id, Math.min(BUILD_TIMEOUT_MS, TOTAL_TIMEOUT_MS - (Date.now() - started) - 40_000));
  const b = await apiWaitTerminal(id);
  brokenBuild = b;
  log(`  build ${id}: ${b.status}, error ${short(b.error, 120)}`);
  assert.equal(seen.final, 'failed', `#build-status of build ${id} ended as ${short(seen.final)} (API: ${b.status}), not failed`);
  try {
    await until('#build-log to hold "error:" and "this is not C"', async () => {
      const t = (await text('pre#build-log')) ?? '';
      return t.includes('error:') && t.includes('this is not C');
    });
  } catch {
    check(false, `pre#build-log lacks "error:" or "this is not C": ...${short(((await text('pre#build-log')) ?? '').slice(-400), 400)}`);
  }
  const shown = await visible('#build-error');
  check(shown, '#build-error is not visible on a failed build');
  if (shown) {
    const e = ((await text('#build-error')) ?? '').trim();
    check(e.length > 0, '#build-error is empty');
    if (b.error) check(e.includes(b.error.trim().split('\n')[0].slice(0, 60)), `#build-error ${short(e)} does not show the API's error ${short(b.error)}`);
  }
  check(await page.locator('#image-sha256').count() === 0 || !(await visible('#image-sha256')), '#image-sha256 shows on a failed build');
  await shot('build-failed');
}

async function flowQueueTargets() {
  await nav('#/queue');
  await waitVisible('table#queue');
  await shot('queue');

  await nav('#/targets');
  const row = 'table#targets tr[data-target="unix/x86_64"]';
  await waitVisible(row);
  const avail = ((await text(`${row} td.available`)) ?? '').trim();
  check(avail === 'yes', `${row} td.available is ${short(avail)}, not "yes"`);
  const targets = (await apiOk('GET', '/targets', 200)).json();
  for (const t of targets) {
    for (const a of t.arches) {
      const sel = `table#targets tr[data-target="${t.name}/${a.name}"] td.available`;
      const got = ((await text(sel)) ?? '').trim();
      check(got === (a.available ? 'yes' : 'no'), `${sel} is ${short(got)}, the API says available=${a.available}`);
    }
  }
  await shot('targets');

  // the builds show on the projects page and in the project's history
  await nav('#/projects');
  for (const [name, b] of [['hello', helloBuild], ['broken', brokenBuild]]) {
    if (!b) continue;
    const sel = `table#projects tr[data-project="${name}"] span.status`;
    try {
      await until(`${sel} to say ${b.status}`, async () => (await page.locator(sel).allTextContents()).some((t) => t.trim() === b.status));
    } catch {
      check(false, `${sel} does not say ${b.status}: ${short((await page.locator(sel).allTextContents()).join('|'))}`);
    }
  }
  await shot('projects-with-builds');
  if (helloBuild) {
    await openProject('hello');
    const row = `table#builds tr[data-build="${helloBuild.id}"]`;
    try {
      await waitVisible(row);
      check(await page.locator(`${row} a[href="#/builds/${helloBuild.id}"]`).count() >= 1, `${row} has no link to #/builds/${helloBuild.id}`);
    } catch {
      check(false, `table#builds has no ${row}`);
    }
    await shot('project-history');
  }
}

// A read token may look but not build: Start build is disabled with the reason (the scope it
// needs), and a click forced past that (the button enabled again in the page) or the API
// itself is refused by the daemon (403), no build created.
async function flowReadToken() {
  const t = (await apiOk('POST', '/tokens', 201, { body: { scope: 'read', name: 'web-test' } })).json();
  assert.match(t.token, /^mgd_/);
  await page.click('#token-forget');
  await waitVisible('form#token-form');
  check(await storedToken() === null, `#token-forget left localStorage "mgd.token" = ${short(await storedToken())}`);
  await shot('token-forgotten');
  await page.fill('#token-input', t.token);
  await page.click('#token-save');
  await until('the read token to be stored', async () => (await storedToken()) === t.token);
  const count = async () => Number((await apiOk('GET', '/projects/hello/builds', 200)).headers.get('x-total-count'));
  const before = await count();

  await openProject('hello');
  await waitVisible('form#build-form');
  const target = 'form#build-form select[name=target]';
  await until('the unix option of the build form\'s target', () => page.locator(`${target} option[value="unix"]`).count());
  try {
    await until('button#build-start to be disabled', () => page.locator('#build-start').isDisabled());
  } catch {
    check(false, 'button#build-start is enabled for a read token');
  }
  const why = `${(await page.locator('#build-start').getAttribute('title')) ?? ''} | ${(await text('#build-start-why')) ?? ''}`;
  check(/write scope/.test(why) && /\bread\b/.test(why), `the reason Start build is disabled does not name the write scope and the token's read: ${short(why)}`);
  check(await visible('#build-start-why'), '#build-start-why (the reason, for who cannot hover) is not shown');
  check(!(await visible('#auth-error')), `#auth-error is visible before any build was asked for: ${short(await text('#auth-error'))}`);
  await shot('read-token-disabled');

  // forced: the page asks anyway, the daemon refuses
  await page.evaluate(() => { document.querySelector('#build-start').disabled = false; });
  await page.click('#build-start');
  const err = await until('#auth-error to be visible', async () => (await visible('#auth-error')) && (await text('#auth-error')));
  check(/403/.test(err) && /scope/i.test(err), `#auth-error after a forced build with a read token does not mention 403 and "scope": ${short(err)}`);
  check(!/^#\/builds\//.test(hashOf()), `the page went to ${hashOf()} although the build was refused`);
  check(await page.locator('#build-start').isDisabled(), 'button#build-start is enabled again after the refused build');
  const direct = await api('POST', '/projects/hello/build', { body: { target: 'unix' }, token: t.token });
  check(direct.status === 403, `POST /projects/hello/build with a read token answers ${direct.status}, not 403`);
  const after = await count();
  check(after === before, `a build was created with a read token (${before} -> ${after} builds)`);
  await shot('read-token-403');
}

// The configure keys of a project are fields of the build form and of the graph: kv_ro's
// `kv_ro` key (declared by the catalog's generic_kv_ro, an enum) is a select; choosing
// `direct` reaches the build's keys and changes the graph.
async function flowConfigureKeys() {
  await openProject('kv');
  const field = 'form#build-form select[data-key=kv_ro]';
  await waitVisible(field);
  const options = await page.locator(`${field} option`).allTextContents();
  check(options.join(',') === 'crunch,direct', `${field} offers ${options.join(',')}, not crunch,direct`);
  check(await page.locator(field).inputValue() === 'crunch', `${field} does not start at the default crunch`);

  // the graph follows the key
  const graphField = '#graph-keys select[data-key=kv_ro]';
  await waitVisible(graphField);
  await waitVisible('#graph img#graph-img', 30_000);
  const before = await page.locator('#graph img#graph-img').getAttribute('src');
  await page.selectOption(graphField, 'direct');
  await page.click('button#graph-show');
  await until('the graph to be drawn again', async () =>
    (await page.locator('#graph img#graph-img').getAttribute('src')) !== before, 30_000);
  const svg = await apiOk('GET', '/projects/kv/graph?format=svg&key=kv_ro%3Ddirect', 200);
  check(svg.text.includes('direct_kv_ro'), 'the graph with kv_ro=direct has no direct_kv_ro device');
  await shot('project-kv-keys');

  await page.selectOption(field, 'direct');
  const id = await startBuildFromForm();
  const b = await apiWaitTerminal(id, BUILD_TIMEOUT_MS);
  check(JSON.stringify(b.keys) === JSON.stringify({ kv_ro: 'direct' }),
    `the build started with kv_ro=direct has keys ${JSON.stringify(b.keys)}`);
  check(b.status === 'succeeded', `the kv build ${id} ${b.status}`);
}

// The build form's own fields are not confused with configure keys of the same names: the
// project "forcekey" declares a configure key `force`, and the form's force checkbox still
// reaches the build (form.elements.force was the checkbox and the key's select at once).
async function flowFormFieldNames() {
  await openProject('forcekey');
  await waitVisible('form#build-form select[data-key=force]');
  const target = 'form#build-form select[name=target]';
  await until('the unix option of the build form\'s target', () => page.locator(`${target} option[value="unix"]`).count());
  await page.check('#build-force');
  const id = await startBuildFromForm();
  const b = await apiWaitTerminal(id, BUILD_TIMEOUT_MS);
  check(b.force === true, `the build started with the force box checked has force ${JSON.stringify(b.force)}`);
  check(JSON.stringify(b.keys) === '{}', `the build started without touching the keys has keys ${JSON.stringify(b.keys)}`);
}

// Pretends the daemon has a second target, "xen", on which kv's key kv_ro defaults to direct
// (a by_target default): switching the form to xen shows xen's default and, the field being
// untouched, sends no key (the unix default used to stay in the field and be sent as set).
async function flowKeyDefaultsPerTarget() {
  const isPath = (p) => (url) => url.origin === daemon.origin && url.pathname === p;
  let sent = null;
  await page.route(isPath('/targets'), async (route) => {
    const res = await route.fetch();
    const all = await res.json();
    all.push({ name: 'xen', doc: 'pretend', arches: [{ name: 'x86_64', available: true, runnable: false }] });
    await route.fulfill({ response: res, json: all });
  });
  await page.route(isPath('/projects/kv/check'), async (route) => {
    if (route.request().postDataJSON().target !== 'xen') return route.continue();
    return route.fulfill({ json: { keys: { target: 'xen', arch: 'x86_64', kv_ro: 'direct' } } });
  });
  await page.route(isPath('/projects/kv/build'), async (route) => {
    sent = route.request().postDataJSON();
    return route.fulfill({ status: 400, json: { error: { code: 'bad_request', message: 'not built by the test', details: [] } } });
  });
  try {
    await page.reload(); // the page keeps /targets once read
    await openProject('kv');
    const field = 'form#build-form select[data-key=kv_ro]';
    await waitVisible(field);
    await until('the xen option of the build form\'s target', () => page.locator('form#build-form select[name=target] option[value="xen"]').count());
    check(await page.locator(field).inputValue() === 'crunch', `${field} does not start at unix's default crunch`);
    await page.selectOption('form#build-form select[name=target]', 'xen');
    try {
      await until(`${field} to show xen's default direct`, async () => (await page.locator(field).inputValue()) === 'direct', 5000);
    } catch {
      check(false, `${field} shows ${short(await page.locator(field).inputValue())} after the target became xen, whose default is direct`);
    }
    await page.click('#build-start');
    await until('the build request', async () => sent, 5000);
    check(sent.target === 'xen', `the build asked for target ${short(sent.target)}, not xen`);
    check(JSON.stringify(sent.keys) === '{}', `the build of xen with untouched keys sent keys ${JSON.stringify(sent.keys)}`);
  } finally {
    await page.unrouteAll({ behavior: 'wait' });
    await page.reload();
  }
}

// The build form offers, for each target, exactly the arches GET /targets says are available
// (never spt's or virtio's aarch64 and riscv64, which are not supported); a build of unix for
// aarch64 (when its cross compiler is installed) started from the form is built for aarch64.
async function flowArchesPerTarget() {
  const targets = (await apiOk('GET', '/targets', 200)).json();
  await openProject('hello');
  const targetSel = 'form#build-form select[name=target]';
  const archSel = 'form#build-form select[name=arch]';
  await until('the unix option of the build form\'s target', () => page.locator(`${targetSel} option[value="unix"]`).count());
  for (const t of targets) {
    const want = t.arches.filter((a) => a.available).map((a) => a.name);
    if (!want.length) continue;
    await page.selectOption(targetSel, t.name);
    const offered = async () => (await page.locator(`${archSel} option`).evaluateAll((os) => os.map((o) => o.value))).join(',');
    try {
      await until(`the arches of ${t.name} to be ${want}`, async () => (await offered()) === want.join(','), 5000);
    } catch {
      check(false, `${archSel} offers ${short(await offered())} for ${t.name}; the API has ${want} available`);
    }
    for (const a of t.arches.filter((x) => x.supported === false))
      check(!want.includes(a.name), `${t.name}/${a.name} is not supported but available`);
  }
  const aarch64 = targets.find((t) => t.name === 'unix').arches.find((a) => a.name === 'aarch64');
  if (!aarch64.available) { note(`unix/aarch64 not built: ${aarch64.reason}`); return; }
  await page.selectOption(targetSel, 'unix');
  await until('the aarch64 option for unix', () => page.locator(`${archSel} option[value="aarch64"]`).count());
  await page.selectOption(archSel, 'aarch64');
  await page.click('#build-start');
  const hash = await until('the page to go to #/builds/ID', async () => /^#\/builds\/\d+$/.test(hashOf()) && hashOf(), 30_000);
  const b = await apiWaitTerminal(Number(hash.slice('#/builds/'.length)), 120_000);
  check(b.status === 'succeeded' && b.target === 'unix' && b.arch === 'aarch64',
    `the form's unix/aarch64 build is ${b.status} for ${b.target}/${b.arch}`);
  await shot('build-aarch64');
}

// The log follower's fallback, against a build the test pretends exists (its record, its
// describe and its log are answered here): the event stream fails, and the log comes by
// polling. 900001: the first answer ends inside a two-byte character, which must be shown
// whole. 900002: the first poll finds the daemon away (it restarts), the second brings the
// log, which must be shown.
async function flowLogFallback() {
  const logs = {
    900001: Buffer.from('héllo wörld\r\nsecond line ✓\n', 'utf8'),
    900002: Buffer.from('after the restart\nthe rest\n', 'utf8'),
  };
  const polls = { 900001: 0, 900002: 0 };
  const record = (id) => ({
    id, project: { id: 1, name: 'hello' }, status: 'succeeded', target: 'unix', arch: 'x86_64', keys: {},
    config_version: 1, ref: null, commit: null, sources_sha256: '0'.repeat(64), input_hash: '1'.repeat(64),
    force: false, rebuild_of: null, reused_from: null, created_at: '2026-01-01T00:00:00Z',
    started_at: '2026-01-01T00:00:01Z', finished_at: '2026-01-01T00:00:02Z', duration_ms: 1000, cache: null,
    image: null, error: null, reproduced_by: [], differs_from: [], reproduces: [], log_size: logs[id].length,
  });
  const notFound = { status: 404, json: { error: { code: 'not_found', message: 'not resolved', details: [] } } };
  await page.route((url) => url.origin === daemon.origin && /^\/builds\/90000[12](\/|$)/.test(url.pathname), async (route) => {
    const url = new URL(route.request().url());
    const [, id, what] = /^\/builds\/(\d+)(?:\/(\w+))?$/.exec(url.pathname);
    if (!what) return route.fulfill({ json: record(Number(id)) });
    if (what === 'describe') return route.fulfill(notFound);
    if ((route.request().headers().accept ?? '').includes('text/event-stream')) return route.abort('connectionreset');
    const log = logs[id];
    const offset = Number(url.searchParams.get('offset') ?? 0);
    polls[id]++;
    if (id === '900002' && polls[id] === 1) return route.abort('connectionrefused');
    // 900001: the first answer stops after "h" and the first byte of "é"
    const end = id === '900001' && offset === 0 ? 2 : log.length;
    const body = log.subarray(offset, end);
    return route.fulfill({
      status: 200, contentType: 'text/plain; charset=utf-8', body,
      headers: { 'X-Log-Size': String(end), 'X-More-Data': end < log.length ? 'true' : 'false' },
    });
  });
  try {
    for (const id of [900001, 900002]) {
      const want = logs[id].toString('utf8');
      await page.goto(`${daemon.origin}/#/builds/${id}`);
      await waitTextMatch('#build-title', new RegExp(`Build\\s+${id}\\b`));
      try {
        await until(`#build-log of build ${id} to show its log`, async () => (await text('pre#build-log')) === want, 8000);
      } catch {
        check(false, `#build-log of build ${id} is ${short(await text('pre#build-log'))}, not ${short(want)} (${polls[id]} polls)`);
      }
      await shot(`log-fallback-${id}`);
    }
  } finally {
    await page.unrouteAll({ behavior: 'wait' });
  }
  await page.goto(daemon.origin + '/#/projects');
}

// The graph's blob: URL goes when the page that drew it does.
async function flowGraphBlobRevoked() {
  await openProject('hello');
  const img = '#graph img#graph-img';
  await waitVisible(img, 30_000);
  const src = await page.locator(img).getAttribute('src');
  check(src.startsWith('blob:'), `${img}'s src is ${short(src)}`);
  await nav('#/queue');
  await waitVisible('table#queue');
  const loads = await page.evaluate((u) => new Promise((resolve) => {
    const i = new Image();
    i.onload = () => resolve(true);
    i.onerror = () => resolve(false);
    i.src = u;
  }), src);
  check(!loads, `the graph's ${src} still loads after the project page was left (never revoked)`);
}

// -- main ---------------------------------------------------------------------------------------

// Once, however many callers (the end of main, the watchdog, a signal).
let cleaning = null;
function cleanup() {
  cleaning ??= doCleanup();
  return cleaning;
}

async function doCleanup() {
  if (browser) {
    try { await Promise.race([browser.close(), sleep(10_000)]); } catch (e) { log(`closing chromium: ${e.message}`); }
  }
  await stopDaemon();
  if (SANITIZER_RE.test(daemon.stderr)) {
    failures.push({ flow: 'daemon', msg: 'the daemon\'s stderr holds a sanitizer report (see below)' });
  }
  if (process.env.MGD_TEST_KEEP === '1') log(`kept ${TMP}`);
  else fs.rmSync(TMP, { recursive: true, force: true });
}

function report() {
  if (foreign.size) {
    failures.push({ flow: 'network', msg: `the page made requests outside ${daemon.origin}: ${[...foreign].join(', ')}` });
  }
  if (pageErrors.length) failures.push({ flow: 'page', msg: `uncaught errors in the page: ${pageErrors.join(' | ')}` });
  if (consoleErrors.length) log(`console errors of the page (not failures): ${consoleErrors.length}\n  ${consoleErrors.slice(0, 20).join('\n  ')}`);
  for (const n of notes) log(`note: ${n}`);
  if (failures.length) {
    const tail = daemon.stderr.split('\n').slice(-60).join('\n');
    console.log(`--- daemon stderr (last 60 lines) ---\n${tail}\n---`);
    console.log(`FAIL: ${failures.length} check(s) failed in ${elapsed()}:`);
    for (const f of failures) console.log(`  [${f.flow}] ${f.msg}`);
    console.log(`screenshots in ${SHOTS}`);
    return 1;
  }
  console.log(`PASS: every flow in ${elapsed()}; screenshots in ${SHOTS}`);
  return 0;
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const f of fs.readdirSync(SHOTS)) if (/^\d\d-.*\.png$/.test(f)) fs.rmSync(path.join(SHOTS, f));

  currentFlow = 'setup';
  await startDaemon();
  daemon.token = fs.readFileSync(path.join(DATA, 'admin.token'), 'utf8').trim();
  log(`mgd listening on ${daemon.origin}`);
  const config = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'hello', 'config.json'), 'utf8'));
  const source = fs.readFileSync(path.join(EXAMPLES, 'hello', 'unikernel.c'), 'utf8');
  const broken = source.replace(/^(int hello_start\(mg_console \*console, mg_time \*time\)\n\{\n)/m, '$1    this is not C;\n');
  assert.notEqual(broken, source, 'could not put "this is not C;" into hello_start');
  await apiOk('POST', '/projects', 201, { body: { name: 'hello', config, sources: { 'unikernel.c': source } } });
  await apiOk('POST', '/projects', 201, { body: { name: 'broken', config, sources: { 'unikernel.c': broken } } });
  // kv_ro: a project with a configure key, its sources a tree
  const kvDir = path.join(EXAMPLES, 'kv_ro');
  const kvSources = {};
  for (const rel of fs.readdirSync(kvDir, { recursive: true })) {
    const full = path.join(kvDir, rel);
    if (rel !== 'config.json' && fs.statSync(full).isFile()) kvSources[rel.split(path.sep).join('/')] = fs.readFileSync(full, 'utf8');
  }
  await apiOk('POST', '/projects', 201, { body: { name: 'kv', sources: kvSources,
    config: JSON.parse(fs.readFileSync(path.join(kvDir, 'config.json'), 'utf8')) } });
  // forcekey: hello with a configure key named like a field of the build form
  const forceConfig = { ...config, name: 'forcekey', keys: { ...config.keys,
    force: { stage: 'configure', type: 'bool', default: false, doc: 'named like the build form\'s force' } } };
  await apiOk('POST', '/projects', 201, { body: { name: 'forcekey', config: forceConfig, sources: { 'unikernel.c': source } } });
  await launch();

  const flows = [
    ['a-login', flowLogin, true],
    ['b-project', flowProject, false],
    ['c-build-succeeds', flowBuildSucceeds, false],
    ['d-build-fails', flowBuildFails, false],
    ['e-queue-targets', flowQueueTargets, false],
    ['g-configure-keys', flowConfigureKeys, false],
    ['h-form-field-names', flowFormFieldNames, false],
    ['i-key-defaults-per-target', flowKeyDefaultsPerTarget, false],
    ['j-log-fallback', flowLogFallback, false],
    ['k-graph-blob-revoked', flowGraphBlobRevoked, false],
    ['l-arches-per-target', flowArchesPerTarget, false],
    ['f-read-token-403', flowReadToken, false],
  ];
  // More flows from tests/web/suites/*.mjs, in file-name order: each module
  // exports `flows`, a list of [name, async (t) => ...], where t is the
  // harness below (the page, the API, checks and waits). They run after the
  // flows above, on the same daemon and browser, so they find its projects
  // and builds; a suite leaves the admin token entered when it ends.
  const suiteDir = path.join(HERE, 'suites');
  const t = {
    get page() { return page; }, get context() { return context; }, get browser() { return browser; },
    daemon, DATA, EXAMPLES, TMP, UI_TIMEOUT_MS, BUILD_TIMEOUT_MS, TERMINAL, STATUSES,
    api, apiOk, apiWaitTerminal, check, note, until, shot, log, sleep, short, text, visible, hashOf,
    storedToken, waitVisible, waitTextMatch, enterToken, nav, openProject, startBuildFromForm, followBuild,
    consoleErrors, pageErrors, axe, contrast, parseColor,
  };
  flows.push(['z-admin-token-again', async () => {
    await enterToken(daemon.token);
    await until('the admin token to be stored', async () => (await storedToken()) === daemon.token);
  }, true]);
  if (fs.existsSync(suiteDir)) {
    for (const f of fs.readdirSync(suiteDir).filter((x) => x.endsWith('.mjs')).sort()) {
      const mod = await import(pathToFileURL(path.join(suiteDir, f)).href);
      for (const [name, fn] of mod.flows) flows.push([`${f.replace(/\.mjs$/, '')}/${name}`, () => fn(t), false]);
    }
  }
  for (const [name, fn, vital] of flows) {
    if (ONLY && !vital && !ONLY.test(name)) continue;
    currentFlow = name;
    const t0 = Date.now();
    log(`flow ${name}`);
    const failed = failures.length;
    try {
      await fn();
    } catch (e) {
      check(false, `stopped: ${e.message.split('\n').slice(0, 3).join(' / ')}`);
      await shot(`${name}-stopped`);
      if (vital) { log('  the other flows need it: giving up'); break; }
    }
    log(`flow ${name}: ${failures.length === failed ? 'ok' : 'FAILED'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

const watchdog = setTimeout(async () => {
  failures.push({ flow: currentFlow, msg: `the test did not finish within ${TOTAL_TIMEOUT_MS / 1000} s` });
  aborted = true;
  await cleanup();
  process.exit(report());
}, TOTAL_TIMEOUT_MS);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    failures.push({ flow: currentFlow, msg: `interrupted by ${sig}` });
    aborted = true;
    await cleanup();
    process.exit(report());
  });
}

try {
  await main();
} catch (e) {
  if (!aborted) failures.push({ flow: currentFlow, msg: e.stack || String(e) });
}
await cleanup();
clearTimeout(watchdog);
process.exit(report());
