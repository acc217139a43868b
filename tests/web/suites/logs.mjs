// A build's page (web/build.js) and its log viewer (web/log.js): line
// links that survive a reload, the first error, folding, search, the raw
// log, a 20k-line log that keeps the page responsive, reproducibility as
// links, a reused build, a running build's elapsed time and step, a queued
// build's position (and no /describe request), the daemon away (backing
// off, then recovering), a cancel said once and not as an error, and the
// actions disabled for a read token.
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';

const goBuild = async (t, id, query = '') => {
  // the same hash again would not load the page again
  if (t.hashOf() === `#/builds/${id}${query}`) await t.page.reload();
  else await t.page.goto(`${t.daemon.origin}/#/builds/${id}${query}`);
  await t.waitTextMatch('#build-title', new RegExp(`Build\\s+${id}\\b`));
};

// The page's log once it equals the API's (the viewer renders in chunks).
async function logComplete(t, id) {
  // the daemon may write the last line just after the status changed
  const want = (await t.until(`the log of build ${id} to be complete`, async () => {
    const r = await t.apiOk('GET', `/builds/${id}/log`, 200);
    return r.headers.get('x-more-data') === 'false' && r;
  }, 20_000)).text;
  await t.until(`pre#build-log of build ${id} to hold the whole log`,
    async () => (await t.text('pre#build-log')) === want, 20_000);
  return want;
}

// Whether the element is inside the browser's viewport and the log's box.
const inView = (t, sel) => t.page.evaluate((s) => {
  const el = document.querySelector(s);
  const box = document.querySelector('pre#build-log');
  if (!el || !box) return false;
  const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
  return r.height > 0 && r.top >= Math.max(0, b.top) - 1 && r.bottom <= Math.min(innerHeight, b.bottom) + 1;
}, sel);

const hrefsOf = (t, sel) => t.page.locator(sel).evaluateAll((as) => as.map((a) => a.getAttribute('href')));

async function buildOf(t, project, pred) {
  const list = (await t.apiOk('GET', `/projects/${project}/builds?per_page=100`, 200)).json();
  return list.find(pred) || null;
}

// The failed build of `broken`: the first-error link goes to the compiler's error line, a
// line's link puts it in the URL, a reload shows it marked and in view; the failed step and
// the terminal line are marked; the red banner shows; the raw log downloads as it is.
async function flowFirstErrorAndLines(t) {
  const b = await buildOf(t, 'broken', (x) => x.status === 'failed');
  if (!b) throw new Error('no failed build of broken');
  await goBuild(t, b.id);
  const log = await logComplete(t, b.id);
  const lines = log.replace(/\n$/, '').split('\n');
  t.check(await t.page.locator('pre#build-log .line').count() === lines.length,
    `pre#build-log has ${await t.page.locator('pre#build-log .line').count()} lines, the log ${lines.length}`);
  const href3 = await t.page.locator('pre#build-log .line[data-line="3"] a.ln').getAttribute('href');
  t.check(href3 === `#/builds/${b.id}?line=3`, `line 3's link is ${t.short(href3)}`);

  const firstErr = lines.findIndex((l) => /unikernel\.c:\d+:\d+: error:/.test(l)) + 1;
  if (!firstErr) throw new Error(`the log of build ${b.id} holds no compiler error`);
  t.check(/\berror/.test((await t.text('#log-counts')) ?? ''), `#log-counts says ${t.short(await t.text('#log-counts'))}`);
  for (const row of await t.page.locator('pre#build-log .line.error').allTextContents()) {
    t.check(/error:|undefined reference/i.test(row), `a line marked as an error says no error: ${t.short(row)}`);
  }
  // the failed step folded hides its output; the jump unfolds it
  const failedStep = t.page.locator('pre#build-log .step', { has: t.page.locator('.line.step-failed') }).filter({ hasText: 'compile unikernel.c' });
  await failedStep.locator('button.fold').click();
  t.check(!(await t.page.locator(`pre#build-log .line[data-line="${firstErr}"]`).isVisible()), 'the error line shows in a folded step');
  await t.page.click('#log-first-error');
  await t.until('the URL to name the first error line', async () => t.hashOf() === `#/builds/${b.id}?line=${firstErr}`, 5000)
    .catch(() => t.check(false, `after "jump to first error" the URL is ${t.hashOf()}, not ?line=${firstErr}`));
  const target = `pre#build-log .line[data-line="${firstErr}"]`;
  t.check(await t.page.locator(target).evaluate((e) => e.classList.contains('target')), `${target} is not marked`);
  t.check(await inView(t, target), `${target} is not in view after the jump`);
  t.check(((await t.text(target)) ?? '').includes('error:'), `${target} is not the compiler's error line`);
  await t.page.reload();
  await t.waitVisible(target);
  await t.until(`${target} to be marked and in view after a reload`,
    async () => (await t.page.locator(target).evaluate((e) => e.classList.contains('target'))) && inView(t, target), 10_000)
    .catch(() => t.check(false, `${target} is not marked and in view after a reload`));
  await t.shot('logs-first-error');

  // a line's own link
  await t.page.click('pre#build-log .line[data-line="2"] a.ln');
  t.check(t.hashOf() === `#/builds/${b.id}?line=2`, `clicking line 2's number leads to ${t.hashOf()}`);
  await t.page.reload();
  await t.until('line 2 to be marked after a reload', () =>
    t.page.locator('pre#build-log .line[data-line="2"].target').count(), 10_000)
    .catch(() => t.check(false, 'line 2 is not marked after a reload of ?line=2'));
  t.check(await t.page.locator('pre#build-log .line.target').count() === 1, 'more than one line is marked');

  // the failed step and how the build ended
  const failedHead = await t.page.locator('pre#build-log .line.step-failed').allTextContents();
  t.check(failedHead.some((x) => /compile unikernel\.c: ran in \d+ ms, exit status 1/.test(x)),
    `no failed step header for compile unikernel.c: ${t.short(failedHead.join(' | '))}`);
  const last = `pre#build-log .line[data-line="${lines.length}"]`;
  t.check(await t.page.locator(last).evaluate((e) => e.classList.contains('terminal-failed')), `${last} (${t.short(lines.at(-1))}) is not marked as the failed end`);
  t.check(await t.visible('#build-error'), '#build-error is hidden on a failed build');
  t.check(!(await t.visible('#build-notice')), '#build-notice shows on a failed build');

  // the raw log, downloaded with the token
  const [download] = await Promise.all([t.page.waitForEvent('download', { timeout: 20_000 }), t.page.click('a#log-raw')]);
  const got = fs.readFileSync(await download.path(), 'utf8');
  t.check(got === log, `the raw log download (${got.length} chars) is not the log (${log.length})`);
}

// A succeeded build of hello: each step's command is folded, shown on demand; a step folds
// whole; a search counts and steps through its matches.
async function flowFoldAndSearch(t) {
  // a build that ran some steps (a forced one runs them all)
  let b = await buildOf(t, 'hello', (x) => x.status === 'succeeded' && x.cache && x.cache.misses >= 3);
  if (!b) {
    b = (await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix', force: true } })).json();
    b = await t.apiWaitTerminal(b.id, t.BUILD_TIMEOUT_MS);
  }
  await goBuild(t, b.id);
  const log = await logComplete(t, b.id);
  const step = 'pre#build-log .step';
  t.check(await t.page.locator(step).count() >= 3, `only ${await t.page.locator(step).count()} step groups`);
  const first = t.page.locator(step).first();
  const cmd = first.locator('.step-cmd');
  t.check(((await cmd.textContent()) ?? '').includes('$ '), 'the first step holds no command line');
  t.check(!(await cmd.isVisible()), 'the first step\'s command is not folded');
  await first.locator('button.cmd-toggle').click();
  t.check(await cmd.isVisible(), 'the command does not show when its button is clicked');
  await first.locator('button.fold').click();
  t.check(!(await cmd.isVisible()), 'the command shows in a folded step');
  t.check(await first.locator('button.fold').getAttribute('aria-expanded') === 'false', 'a folded step\'s button says expanded');
  const head = first.locator('.line.step-head');
  t.check(await head.isVisible() && /: ran in \d+ ms/.test(await head.textContent()), 'a folded step does not show its header');
  await first.locator('button.fold').click();
  t.check(await first.locator('button.fold').getAttribute('aria-expanded') === 'true' &&
    !(await first.locator('.step-out').evaluate((e) => e.hidden)), 'the step does not unfold');
  t.check((await t.text('pre#build-log')) === log, 'folding changed the text of the log');

  const n = log.split('\n').reduce((k, l) => k + (l.toLowerCase().match(/ran in/g) || []).length, 0);
  await t.page.fill('#log-search', 'RAN IN');
  await t.page.press('#log-search', 'Enter');
  await t.waitTextMatch('#log-search-count', new RegExp(`^1 of ${n}$`), 5000)
    .catch(async () => t.check(false, `#log-search-count is ${t.short(await t.text('#log-search-count'))}, not "1 of ${n}"`));
  // the count at once, the marks a chunk at a time
  await t.until(`${n} marks`, async () => (await t.page.locator('pre#build-log mark').count()) === n, 5000)
    .catch(async () => t.check(false, `${await t.page.locator('pre#build-log mark').count()} marks, ${n} matches`));
  await t.page.click('#log-search-next');
  t.check((await t.text('#log-search-count')) === `2 of ${n}`, `after Next: ${t.short(await t.text('#log-search-count'))}`);
  t.check(await inView(t, 'pre#build-log mark.current'), 'the current match is not in view');
  await t.page.click('#log-search-prev');
  await t.page.click('#log-search-prev');
  t.check((await t.text('#log-search-count')) === `${n} of ${n}`, `Previous from the first: ${t.short(await t.text('#log-search-count'))}`);
  await t.page.fill('#log-search', 'no such text in any log');
  await t.waitTextMatch('#log-search-count', /^no match$/, 5000)
    .catch(async () => t.check(false, `#log-search-count for no match is ${t.short(await t.text('#log-search-count'))}`));
  await t.until('the marks to go', async () => (await t.page.locator('pre#build-log mark').count()) === 0, 5000)
    .catch(() => t.check(false, 'marks stay after the search changed'));
  t.check(await t.page.locator('#log-search-prev').isDisabled() && await t.page.locator('#log-search-next').isDisabled(),
    'Previous and Next are enabled with no match');
  await t.shot('logs-search');
}

// A forced rebuild: both builds link each other (reproduced by / reproduces, or differs
// from), as the daemon lists them; a build that reused the image says so and links it.
async function flowReproducibility(t) {
  const orig = await buildOf(t, 'hello', (x) => x.status === 'succeeded' && !x.reused_from && x.target === 'unix' &&
    x.arch === 'x86_64' && !Object.keys(x.keys).length);
  if (!orig) throw new Error('no succeeded unix build of hello');
  const rb = (await t.apiOk('POST', `/builds/${orig.id}/rebuild`, 202)).json();
  const done = await t.apiWaitTerminal(rb.id, t.BUILD_TIMEOUT_MS);
  t.check(done.status === 'succeeded', `the rebuild ${rb.id} ${done.status}`);
  const o = (await t.apiOk('GET', `/builds/${orig.id}`, 200)).json();
  t.check([...o.reproduced_by, ...o.differs_from].includes(rb.id),
    `the API lists the forced rebuild ${rb.id} in neither reproduced_by nor differs_from of ${orig.id}`);
  for (const [b, fields] of [[o, ['reproduced_by', 'differs_from', 'reproduces']], [done, ['reproduces', 'differs_from', 'reproduced_by']]]) {
    const api = (await t.apiOk('GET', `/builds/${b.id}`, 200)).json();
    await goBuild(t, b.id);
    for (const f of fields) {
      const sel = `dl#build-facts dd[data-field="${f}"] a`;
      await t.until(`${sel} to be ${api[f]}`, async () =>
        JSON.stringify(await hrefsOf(t, sel)) === JSON.stringify(api[f].map((x) => `#/builds/${x}`)), 5000)
        .catch(async () => t.check(false, `build ${b.id}: ${sel} link to ${JSON.stringify(await hrefsOf(t, sel))}, the API says ${JSON.stringify(api[f])}`));
      const dd = (await t.text(`dl#build-facts dd[data-field="${f}"]`)) ?? '';
      t.check(!/http|,,|^,/.test(dd), `build ${b.id}: the ${f} fact reads ${t.short(dd)}`);
    }
    const summary = await hrefsOf(t, '#build-repro a');
    const listed = [...api.reproduced_by, ...api.reproduces, ...api.differs_from].map((x) => `#/builds/${x}`);
    t.check(JSON.stringify(summary.sort()) === JSON.stringify(listed.sort()), `build ${b.id}: #build-repro links ${JSON.stringify(summary)}, the lists ${JSON.stringify(listed)}`);
  }
  await t.shot('logs-reproduced');

  // not forced: the image of an earlier build, no action run
  const reused = (await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix', arch: 'x86_64' } })).json();
  const r = await t.apiWaitTerminal(reused.id, t.BUILD_TIMEOUT_MS);
  if (!r.reused_from) throw new Error(`build ${r.id} did not reuse an image`);
  await goBuild(t, r.id);
  await t.waitVisible('#build-reused');
  const said = (await t.text('#build-reused')) ?? '';
  t.check(/reused the image of #\d+, ran no action/i.test(said), `#build-reused says ${t.short(said)}`);
  t.check(JSON.stringify(await hrefsOf(t, '#build-reused a')) === JSON.stringify([`#/builds/${r.reused_from}`]),
    `#build-reused links ${JSON.stringify(await hrefsOf(t, '#build-reused a'))}, not #/builds/${r.reused_from}`);
  t.check(await t.page.locator('dl#build-facts dd[data-field="reproduced_by"] a').count() === 0, 'a reused build lists reproductions');
  t.check(await t.page.locator('#build-repro').count() === 0, 'a reused build has a reproducibility summary');
  const after = (await t.apiOk('GET', `/builds/${r.reused_from}`, 200)).json();
  await goBuild(t, r.reused_from);
  await t.waitVisible('dl#build-facts');
  t.check(!(await hrefsOf(t, '#build-repro a, dl#build-facts a')).includes(`#/builds/${r.id}`),
    `build ${r.reused_from} links the build ${r.id} that only reused its image (API: ${JSON.stringify(after.reproduced_by)})`);
}

// A git server that accepts and never answers: builds of its repository run (fetching)
// until cancelled, without using the CPU.
function silentServer() {
  const sockets = new Set();
  const server = net.createServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/repo.git`,
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  })));
}

// Two builds fetching from the silent server (running), a third queued: the queued page
// shows its position and asks for no graph; the running page's elapsed time ticks; with
// the daemon away the page backs off and recovers; Cancel ends it as cancelled, said once.
async function flowRunningQueuedCancelled(t) {
  const srv = await silentServer();
  const ids = [];
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(t.EXAMPLES, 'hello', 'config.json'), 'utf8'));
    await t.apiOk('POST', '/projects', 201, { body: { name: 'silent', config: cfg, repo: { url: srv.url } } });
    for (let i = 0; i < 3; i++) ids.push((await t.apiOk('POST', '/projects/silent/build', 202, { body: { target: 'unix' } })).json().id);
    const [a, , c] = ids;
    const states = await t.until('two builds running and one queued', async () => {
      const bs = await Promise.all(ids.map(async (id) => (await t.apiOk('GET', `/builds/${id}`, 200)).json()));
      return bs[0].status === 'running' && bs[1].status === 'running' && bs[2].status === 'queued' ? bs : false;
    }, 20_000);

    // queued: its position, and no request for its graph
    const describes = [];
    const onReq = (req) => { if (new URL(req.url()).pathname === `/builds/${c}/describe`) describes.push(req.url()); };
    t.page.on('request', onReq);
    await goBuild(t, c);
    await t.waitTextMatch('#build-status', /^queued$/);
    await t.waitTextMatch('#build-queue-position', new RegExp(`^${states[2].queue_position}$`))
      .catch(async () => t.check(false, `#build-queue-position is ${t.short(await t.text('#build-queue-position'))}, the API says ${states[2].queue_position}`));
    await t.sleep(3500);
    t.page.off('request', onReq);
    t.check(describes.length === 0, `the page of queued build ${c} asked for its graph ${describes.length} times`);
    t.check(!(await t.visible('#build-error')) && !(await t.visible('#build-notice')), 'a queued build shows an ending');
    await t.shot('logs-queued');

    // running: the elapsed time ticks
    await goBuild(t, a);
    await t.waitTextMatch('#build-status', /^running$/);
    const e1 = await t.until('#build-elapsed', () => t.text('#build-elapsed'));
    await t.sleep(2200);
    const e2 = await t.text('#build-elapsed');
    t.check(e1 !== e2 && /^\d+ s$|min/.test(e2 ?? ''), `#build-elapsed went from ${t.short(e1)} to ${t.short(e2)} in 2.2 s`);
    t.check(/sources/.test((await t.text('#build-phase')) ?? ''), `#build-phase is ${t.short(await t.text('#build-phase'))} while fetching`);

    // the daemon away: every request to it refused; the page backs off, then recovers
    const isApi = (url) => url.origin === t.daemon.origin && !url.pathname.startsWith('/ui/');
    let asked = 0;
    await t.page.route(isApi, (route) => { asked++; return route.abort('connectionrefused'); });
    const t0 = Date.now();
    await t.until('#error to say the daemon cannot be reached', async () =>
      (await t.visible('#error')) && /reach/i.test((await t.text('#error')) ?? ''), 10_000)
      .catch(async () => t.check(false, `#error is ${t.short(await t.text('#error'))} with the daemon away`));
    await t.sleep(Math.max(0, 10_000 - (Date.now() - t0)));
    t.check(asked <= 8, `the page asked the absent daemon ${asked} times in 10 s`);
    t.check(await t.page.locator('#error').count() === 1 && (await t.text('#build-status')) === 'running',
      `with the daemon away the status is ${t.short(await t.text('#build-status'))}`);
    await t.page.unrouteAll({ behavior: 'wait' });
    t.log(`  ${asked} requests in 10 s with the daemon away`);
    await t.until('#error to go once the daemon answers', async () => !(await t.visible('#error')), 20_000)
      .catch(async () => t.check(false, `#error still says ${t.short(await t.text('#error'))} after the daemon came back`));
    const e3 = await t.text('#build-elapsed');
    await t.sleep(1500);
    t.check(e3 !== (await t.text('#build-elapsed')), '#build-elapsed stopped after the daemon came back');

    // cancelled: no red banner; the reason once, in the log's last line and a neutral notice
    await t.page.click('#build-cancel');
    await t.waitTextMatch('#build-status', /^cancelled$/, 15_000);
    const log = await logComplete(t, a);
    t.check((log.match(/cancelled by a user/g) || []).length === 1, `the log says "cancelled by a user" ${(log.match(/cancelled by a user/g) || []).length} times`);
    t.check(!/error: cancel/.test(log), 'the log of a cancel says "error: cancelled"');
    t.check(!(await t.visible('#build-error')), '#build-error (red) shows on a cancelled build');
    await t.until('#build-notice', () => t.visible('#build-notice'), 5000)
      .catch(() => t.check(false, '#build-notice is not shown on a cancelled build'));
    const said = ((await t.text('#build-notice')) ?? '').toLowerCase();
    t.check((said.match(/cancelled by a user/g) || []).length === 1, `#build-notice says ${t.short(said)}`);
    t.check(await t.page.locator('pre#build-log .line.terminal-neutral').count() === 1, 'the cancel\'s line is not marked as a neutral end');
    t.check(await t.page.locator('pre#build-log .line.terminal-failed, pre#build-log .line.error').count() === 0, 'a cancel is marked as an error in the log');
    t.check(!(await t.visible('#build-progress')), '#build-progress shows on a cancelled build');
    await t.shot('logs-cancelled');
  } finally {
    for (const id of ids) await t.api('POST', `/builds/${id}/cancel`);
    for (const id of ids) await t.apiWaitTerminal(id).catch(() => {});
    srv.close();
  }
}

// A build that compiles for a few seconds: the page names the step running (the daemon's
// progress) and marks its start line in the log as running; the log grows without being
// rendered again (line 1 stays the same element) and the step ends as a group.
async function flowRunningStep(t) {
  const block = (i) => `F1000(${i})`;
  const slow = `#include <stdint.h>
/* logs suite ${Date.now()} */
#define F(i) uint64_t f##i(uint64_t x); uint64_t f##i(uint64_t x) { uint64_t a = x * i##u; \\
    for (int k = 0; k < (int)(i % 7u) + 3; k++) \\
        a = (a ^ (a >> (i % 13u + 1u))) * 0x9e3779b97f4a7c15u + i##u; \\
    return a + i##u; }
#define F10(i) F(i##0) F(i##1) F(i##2) F(i##3) F(i##4) F(i##5) F(i##6) F(i##7) F(i##8) F(i##9)
#define F100(i) F10(i##0) F10(i##1) F10(i##2) F10(i##3) F10(i##4) F10(i##5) F10(i##6) F10(i##7) F10(i##8) F10(i##9)
#define F1000(i) F100(i##0) F100(i##1) F100(i##2) F100(i##3) F100(i##4) F100(i##5) F100(i##6) F100(i##7) F100(i##8) F100(i##9)
${block(1)}
${block(2)}
`;
  const cfg = JSON.parse(fs.readFileSync(path.join(t.EXAMPLES, 'hello', 'config.json'), 'utf8'));
  cfg.name = 'slowlog';
  cfg.devices.main.sources = ['unikernel.c', 'slow.c'];
  const source = fs.readFileSync(path.join(t.EXAMPLES, 'hello', 'unikernel.c'), 'utf8');
  await t.apiOk('POST', '/projects', 201, { body: { name: 'slowlog', config: cfg, sources: { 'unikernel.c': source, 'slow.c': slow } } });
  const b = (await t.apiOk('POST', '/projects/slowlog/build', 202, { body: { target: 'unix' } })).json();
  await goBuild(t, b.id);
  try {
    await t.waitTextMatch('#build-steps', /compile slow\.c/, 60_000);
    const start = 'pre#build-log .line.start.running';
    await t.until(`${start} of compile slow.c`, async () =>
      (await t.page.locator(start).allTextContents()).some((x) => x.includes('compile slow.c: started')), 10_000)
      .catch(() => t.check(false, 'the start line of compile slow.c is not marked running'));
    await t.page.evaluate(() => { document.querySelector('pre#build-log .line[data-line="1"]').dataset.kept = 'yes'; });
    await t.shot('logs-running-step');
  } catch (e) {
    t.check(false, `the running step did not show: ${e.message.split('\n')[0]}`);
  }
  const done = await t.apiWaitTerminal(b.id, t.BUILD_TIMEOUT_MS);
  t.check(done.status === 'succeeded', `the slow build ${b.id} ${done.status}`);
  await t.waitTextMatch('#build-status', /^succeeded$/, 15_000);
  await logComplete(t, b.id);
  t.check(await t.page.locator('pre#build-log .line[data-line="1"][data-kept="yes"]').count() === 1,
    'line 1 was rendered again while the log grew');
  t.check(await t.page.locator('pre#build-log .line.running').count() === 0, 'a step is still marked running after the end');
  t.check(await t.page.locator('pre#build-log .step[data-step="compile slow.c"]').count() === 1, 'no step group for compile slow.c');
  t.check(!(await t.visible('#build-progress')), '#build-progress shows on a finished build');
  t.check(await t.page.locator('a#build-size').getAttribute('href') === `#/builds/${b.id}/size` && await t.visible('a#build-size'),
    'a succeeded build has no "Size breakdown" link');
  t.check(await t.page.locator('a#build-compare').getAttribute('href') === `#/compare/${b.id}`, 'no "Compare…" link');
}

// A finished build the daemon does not have, answered here (its record, no graph, its log
// by polling: the event stream is refused): for what a test cannot make the daemon do.
async function pretendBuild(t, id, fields, body) {
  const record = {
    id, project: { id: 1, name: 'hello' }, status: 'succeeded', target: 'unix', arch: 'x86_64', keys: {},
    config_version: 1, ref: null, commit: null, sources_sha256: '0'.repeat(64), input_hash: '1'.repeat(64),
    force: false, pinned: false, rebuild_of: null, reused_from: null, created_at: '2026-01-01T00:00:00Z',
    started_at: '2026-01-01T00:00:01Z', finished_at: '2026-01-01T00:00:09Z', duration_ms: 8000, cache: null,
    image: null, error: null, reproduced_by: [], differs_from: [], reproduces: [], queue_position: null,
    progress: null, log_size: body.length, ...fields,
  };
  await t.page.route((url) => url.origin === t.daemon.origin && url.pathname.startsWith(`/builds/${id}`), async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === `/builds/${id}`) return route.fulfill({ json: record });
    if (url.pathname.endsWith('/describe')) return route.fulfill({ status: 404, json: { error: { code: 'not_found', message: 'no', details: [] } } });
    if ((route.request().headers().accept ?? '').includes('text/event-stream')) return route.abort('connectionreset');
    const offset = Number(url.searchParams.get('offset') ?? 0);
    return route.fulfill({ status: 200, contentType: 'text/plain; charset=utf-8', body: body.subarray(offset),
      headers: { 'X-Log-Size': String(body.length), 'X-More-Data': 'false' } });
  });
}

// A log of 20 000 lines (the daemon's answers pretended): the page stays responsive while
// it renders (no task longer than a second), every line arrives, the text is the log.
async function flowLongLog(t) {
  const id = 900100;
  const parts = ['[   0.001] build 900100 of hello: unix/x86_64, config version 1\n'];
  for (let i = 0; parts.length < 20_000 - 1; i++) {
    parts.push(`[   1.${String(i % 1000).padStart(3, '0')}] compile f${i}.c: ran in 5 ms\n`,
      `[   1.000] $ gcc -c f${i}.c -o f${i}.o\n`, `[   1.000] f${i}.c:1:1: warning: <script>alert(${i})</script> & stuff\n`);
  }
  parts.length = 20_000 - 1;
  parts.push('[   9.000] succeeded\n');
  const body = Buffer.from(parts.join(''), 'utf8');
  await pretendBuild(t, id, {}, body);
  try {
    await t.page.goto(`${t.daemon.origin}/#/projects`);
    await t.page.evaluate(() => {
      window.__lag = 0;
      let last = performance.now();
      setInterval(() => { const now = performance.now(); window.__lag = Math.max(window.__lag, now - last); last = now; }, 20);
    });
    const t0 = Date.now();
    await t.page.evaluate((h) => { location.hash = h; }, `#/builds/${id}`);
    await t.waitVisible('pre#build-log .line[data-line="20000"]', 60_000);
    const ms = Date.now() - t0;
    const lag = await t.page.evaluate(() => window.__lag);
    t.log(`  20000 lines shown in ${ms} ms; the longest gap between timers ${Math.round(lag)} ms`);
    t.check(lag < 1000, `the page did not answer for ${Math.round(lag)} ms while rendering 20000 lines`);
    t.check((await t.text('pre#build-log')) === body.toString('utf8'), 'the text of the 20000-line log differs from the log');
    t.check(await t.page.locator('pre#build-log script').count() === 0, 'log text became elements');
    t.check(await t.page.locator('#log-search-prev').isDisabled() && await t.page.locator('#log-search-next').isDisabled(),
      'Previous and Next are enabled with no search');
    await t.page.fill('#log-search', 'alert(1999)');
    await t.page.press('#log-search', 'Enter');
    await t.waitTextMatch('#log-search-count', /^1 of 1$/, 5000)
      .catch(async () => t.check(false, `search in the long log: ${t.short(await t.text('#log-search-count'))}`));
    t.check(await inView(t, 'pre#build-log mark.current'), 'the match in the long log is not in view');
    t.check(!(await t.page.locator('#log-search-next').isDisabled()), 'Next is disabled with a match');

    // a search that matches almost every line: counted at once, marked without
    // blocking the page (no task of 500 ms or more while the marks are drawn)
    const hits = body.toString('utf8').split('\n').reduce((n, l) => n + (l.toLowerCase().split('e').length - 1), 0);
    t.check(await t.page.evaluate(() => PerformanceObserver.supportedEntryTypes.includes('longtask')), 'no longtask entries to measure with');
    await t.page.evaluate(() => {
      window.__longest = 0;
      window.__obs = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
      });
      window.__obs.observe({ type: 'longtask' });
      window.__lag = 0;
    });
    await t.page.fill('#log-search', 'e');
    await t.waitTextMatch('#log-search-count', new RegExp(`^1 of ${hits}$`), 10_000)
      .catch(async () => t.check(false, `searching "e": ${t.short(await t.text('#log-search-count'))}, not "1 of ${hits}"`));
    await t.until('every match of "e" to be marked', async () => (await t.page.locator('pre#build-log mark').count()) === hits, 30_000)
      .catch(async () => t.check(false, `${await t.page.locator('pre#build-log mark').count()} marks for ${hits} matches of "e"`));
    const blocked = await t.page.evaluate(() => { window.__obs.disconnect(); return { task: window.__longest, lag: window.__lag }; });
    t.log(`  "e": ${hits} matches; the longest task ${Math.round(blocked.task)} ms, the longest gap between timers ${Math.round(blocked.lag)} ms`);
    // the longest task, not the timers' gaps: on a loaded machine those also
    // count the time the browser waited for a CPU
    t.check(blocked.task < 500, `searching "e" blocked the page for a task of ${Math.round(blocked.task)} ms`);
    await t.page.fill('#log-search', '');
    await t.until('the marks of "e" to go', async () => (await t.page.locator('pre#build-log mark').count()) === 0, 30_000)
      .catch(async () => t.check(false, `${await t.page.locator('pre#build-log mark').count()} marks stay after the search was emptied`));
    t.check(await t.page.locator('#log-search-prev').isDisabled(), 'Previous is enabled after the search was emptied');

    // ?line=N deep in the log, opened afresh: the line whole in the log's box, and stays there
    await t.page.goto(`${t.daemon.origin}/#/projects`);
    await t.page.evaluate((h) => { location.hash = h; }, `#/builds/${id}?line=15000`);
    const target = 'pre#build-log .line.target[data-line="15000"]';
    await t.waitVisible(target, 60_000);
    await t.waitVisible('pre#build-log .line[data-line="20000"]', 60_000);
    await t.until('line 15000 to be whole in the log\'s box', () => inView(t, target), 5000)
      .catch(() => t.check(false, 'line 15000 of ?line=15000 is not (wholly) in view in the log\'s box'));
    await t.page.waitForTimeout(500);
    const where = await t.page.evaluate((sel) => {
      const r = document.querySelector(sel).getBoundingClientRect(), b = document.querySelector('pre#build-log').getBoundingClientRect();
      return { top: r.top - b.top, bottom: b.bottom - r.bottom };
    }, target);
    t.check(await inView(t, target) && Math.abs(where.top - where.bottom) < 60,
      `line 15000 is not centred in the log's box once the log is shown: ${JSON.stringify(where)}`);
  } finally {
    await t.page.unrouteAll({ behavior: 'wait' });
  }
  await t.page.goto(`${t.daemon.origin}/#/projects`);
}

// An interrupted build (the daemon's answers pretended: a crash is not made here): a
// neutral notice quoting the log's last line, no red banner, the line marked as a neutral end.
async function flowInterrupted(t) {
  const id = 900200;
  const last = '[mgd] interrupted: the daemon stopped while the build ran; the next start marked it';
  const body = Buffer.from(`[   0.000] build ${id} of hello: unix/x86_64, config version 1\n` +
    '[   0.100] compile unikernel.c: started\n' + `${last}\n`, 'utf8');
  const zero = { actions: 0, hits: 0, misses: 0, remote: { hits: 0, misses: 0, errors: 0, bytes_down: 0, bytes_up: 0 } };
  // a crash: finished_at is the next start, nothing of the cache was recorded
  await pretendBuild(t, id, { status: 'interrupted', error: 'interrupted', cache: zero }, body);
  try {
    await goBuild(t, id);
    await t.waitTextMatch('#build-notice', /the daemon stopped while the build ran; the next start marked it/, 10_000)
      .catch(async () => t.check(false, `#build-notice of an interrupted build says ${t.short(await t.text('#build-notice'))}`));
    t.check(!(await t.visible('#build-error')), '#build-error (red) shows on an interrupted build');
    t.check(await t.page.locator('pre#build-log .line.terminal-neutral').count() === 1, 'the interruption is not marked as a neutral end');
    t.check(await t.page.locator('pre#build-log .line.unended').count() === 1 &&
      await t.page.locator('pre#build-log .line.running').count() === 0, 'the step the interruption cut is not marked as never ended');
    const fact = (f) => t.text(`#build-facts dd[data-field="${f}"]`).then((x) => (x ?? '').trim());
    await t.until('the facts of a crash', async () => /^unknown\b/.test(await fact('duration')), 10_000)
      .catch(async () => t.check(false, `the duration of a build a crash interrupted says ${t.short(await fact('duration'))}`));
    t.check(await fact('cache') === 'not recorded (interrupted)', `its cache says ${t.short(await fact('cache'))}`);
    t.check(/next start marked it/.test(await fact('finished_at')), `its finished says ${t.short(await fact('finished_at'))}`);
  } finally {
    await t.page.unrouteAll({ behavior: 'wait' });
  }
  // a stop: the daemon recorded the end and what the cache did
  const stopped = id + 1;
  const body2 = Buffer.from(`[   0.000] build ${stopped} of hello: unix/x86_64, config version 1\n` +
    '[   0.100] compile unikernel.c: started\n[   8.000] interrupted: the daemon stopped while the build ran\n', 'utf8');
  await pretendBuild(t, stopped, { status: 'interrupted', error: 'interrupted', cache: { ...zero, actions: 4, hits: 1, misses: 1 } }, body2);
  try {
    await goBuild(t, stopped);
    const fact = (f) => t.text(`#build-facts dd[data-field="${f}"]`).then((x) => (x ?? '').trim());
    await t.until('the facts of a stop', async () => /until the daemon stopped it/.test(await fact('duration')), 10_000)
      .catch(async () => t.check(false, `the duration of a build a stop interrupted says ${t.short(await fact('duration'))}`));
    t.check(/^8\.0 s\b/.test(await fact('duration')), `its duration says ${t.short(await fact('duration'))}, not 8.0 s`);
    t.check(await fact('cache') === '1 hits, 1 misses of 4 actions', `its cache says ${t.short(await fact('cache'))}`);
  } finally {
    await t.page.unrouteAll({ behavior: 'wait' });
  }
}

// A read token: Cancel, Rebuild and Pin are disabled with the reason (GET /whoami).
async function flowReadTokenActions(t) {
  const who = await t.api('GET', '/whoami');
  if (who.status === 404) { t.note('no GET /whoami on this daemon: the read-token case is not judged'); return; }
  const b = await buildOf(t, 'hello', (x) => x.status === 'succeeded');
  const tok = (await t.apiOk('POST', '/tokens', 201, { body: { scope: 'read', name: 'logs-read' } })).json();
  try {
    await t.enterToken(tok.token);
    await t.until('the read token to be stored', async () => (await t.storedToken()) === tok.token);
    await goBuild(t, b.id);
    for (const sel of ['#build-rebuild', '#build-pin']) {
      await t.until(`${sel} to be disabled`, () => t.page.locator(sel).isDisabled(), 5000)
        .catch(() => t.check(false, `${sel} is enabled for a read token`));
      const why = (await t.page.locator(sel).getAttribute('title')) ?? '';
      t.check(/write/.test(why), `${sel}'s reason is ${t.short(why)}`);
    }
    await t.shot('logs-read-token');
  } finally {
    await t.enterToken(t.daemon.token);
    await t.until('the admin token to be stored', async () => (await t.storedToken()) === t.daemon.token);
  }
}

export const flows = [
  ['first-error-and-lines', flowFirstErrorAndLines],
  ['fold-and-search', flowFoldAndSearch],
  ['reproducibility', flowReproducibility],
  ['running-queued-cancelled', flowRunningQueuedCancelled],
  ['running-step', flowRunningStep],
  ['long-log', flowLongLog],
  ['interrupted', flowInterrupted],
  ['read-token-actions', flowReadTokenActions],
];
