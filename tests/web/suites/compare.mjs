// Browser flows of the compare page (#/compare/A/B, #/compare/A), the size
// treemap (#/builds/ID/size) and a project's trends (#/projects/NAME/trends)
// of web/compare.js, web/treemap.js and web/trends.js.
//
// They make a project of their own, "cmp" (hello's config and sources), so
// that the builds other flows make do not change its counts: build 1 (config
// version 1); config version 2 adds a configure key "flavour" and a second
// job (a device only in B); build 2 sets the key; build 3 rebuilds build 1
// (every action again: the same bytes); build 4 asks for build 2's inputs
// again (reused); build 5 is of other sources (other bytes, and a symbol
// named like markup); build 6 of sources that do not compile (failed); build
// 7 cancelled.
// Every figure the page shows is checked against the API's.

import fs from 'node:fs';
import path from 'node:path';

const P = 'cmp';
const HOSTILE = '<img src=x onerror=alert(1)>';
const B = {}; // the builds above by name, as the API answered them at the end

async function setUp(t) {
  if (B.one) return;
  const config = JSON.parse(fs.readFileSync(path.join(t.EXAMPLES, 'hello', 'config.json'), 'utf8'));
  const source = fs.readFileSync(path.join(t.EXAMPLES, 'hello', 'unikernel.c'), 'utf8');
  await t.apiOk('POST', '/projects', 201, { body: { name: P, config, sources: { 'unikernel.c': source } } });
  const build = async (body) => (await t.apiOk('POST', `/projects/${P}/build`, 202, { body: { target: 'unix', ...body } })).json();
  const done = (b) => t.apiWaitTerminal(b.id, t.BUILD_TIMEOUT_MS);
  B.one = await done(await build({}));
  // version 2: a configure key more, and hello's job applied twice (a device only in B)
  const v2 = { ...config, keys: { ...config.keys, flavour: { stage: 'configure', type: 'string', default: 'plain', doc: 'a key to compare' } },
    jobs: [...config.jobs, config.jobs[0]] };
  await t.apiOk('PUT', `/projects/${P}/config`, 201, { body: v2 });
  B.two = await done(await build({ keys: { flavour: 'spicy' } }));
  B.rebuild = await done((await t.apiOk('POST', `/builds/${B.one.id}/rebuild`, 202)).json());
  B.reused = await done(await build({ keys: { flavour: 'spicy' } }));
  // other bytes, and a symbol whose name is markup (the treemap must show it as text; its own
  // section: -fdata-sections would put the name into the section's, which the assembler refuses)
  const other = source.replace('"%s\\n", g->message', '"%s (a longer line: other bytes, %s)\\n", g->message, cmp_tag')
    .replace('static void greet(void *arg)', `const char cmp_tag[64] __asm__("\\"${HOSTILE}\\"") __attribute__((section(".rodata.cmp_tag"))) = "tag";\n\n` +
      'static void greet(void *arg)');
  t.check(other !== source, 'could not change the greeting of hello\'s unikernel.c');
  await t.apiOk('PATCH', `/projects/${P}`, 200, { body: { sources: { 'unikernel.c': other } } });
  B.other = await done(await build({}));
  await t.apiOk('PATCH', `/projects/${P}`, 200, { body: { sources: { 'unikernel.c': source.replace(/\n\}\s*$/, '\n}\nthis is not C;\n') } } });
  B.failed = await done(await build({}));
  const c = await build({ force: true });
  await t.apiOk('POST', `/builds/${c.id}/cancel`, 200);
  B.cancelled = await done(c);
  for (const [k, b] of Object.entries(B)) t.log(`  ${k}: #${b.id} ${b.status}${b.reused_from ? ' reused' : ''} ${b.image ? b.image.sha256.slice(0, 12) : ''}`);
  t.check(B.one.status === 'succeeded' && B.two.status === 'succeeded' && B.rebuild.status === 'succeeded' &&
    B.other.status === 'succeeded', 'the builds of cmp did not all succeed');
  t.check(B.reused.reused_from === B.two.id, `build ${B.reused.id} did not reuse ${B.two.id}`);
  t.check(B.failed.status === 'failed', `build ${B.failed.id} of broken sources is ${B.failed.status}`);
  t.check(B.cancelled.status === 'cancelled', `build ${B.cancelled.id} is ${B.cancelled.status}, not cancelled`);
}

// The accessibility check of the shell's harness (t.axe: serious and
// critical axe-core violations fail), where the harness has it.
async function axe(t, name) {
  if (t.axe) await t.axe(name);
}

async function go(t, hash) {
  await t.page.evaluate((h) => { location.hash = h; }, hash);
  await t.until(`the page to go to ${hash}`, async () => t.hashOf() === hash);
}

const rowOf = async (t, field) => t.page.evaluate((f) => {
  const tr = [...document.querySelectorAll('table#compare-inputs tbody tr')].find((r) => r.dataset.field === f);
  return tr ? { changed: tr.dataset.changed, cells: [...tr.children].map((c) => c.textContent.trim()) } : null;
}, field);

async function flowConfigAndKeys(t) {
  await setUp(t);
  const { one, two } = B;
  await go(t, `#/compare/${one.id}/${two.id}`);
  await t.waitVisible('table#compare-inputs');
  const cv = await rowOf(t, 'config_version');
  t.check(cv && cv.changed === 'true' && cv.cells[1] === '1' && cv.cells[2] === '2',
    `the config version row is ${JSON.stringify(cv)}, not 1 against 2, changed`);
  const key = await rowOf(t, 'key:flavour');
  t.check(key && key.changed === 'true' && key.cells[1] === '(default)' && key.cells[2] === 'spicy',
    `the flavour key row is ${JSON.stringify(key)}, not "(default)" against "spicy", changed`);
  const target = await rowOf(t, 'target');
  t.check(target && target.changed === 'false', `the target row is ${JSON.stringify(target)}, changed though both are the same`);
  // the toolchain identity: both builds ran with the daemon's one toolchain
  const tc = await rowOf(t, 'toolchain');
  t.check(/^[0-9a-f]{64}$/.test(one.toolchain ?? '') && one.toolchain === two.toolchain,
    `the API's toolchain of builds ${one.id} and ${two.id}: ${one.toolchain} and ${two.toolchain}`);
  t.check(tc && tc.cells[1] === one.toolchain && tc.cells[2] === two.toolchain && tc.changed === 'false',
    `the toolchain row is ${JSON.stringify(tc)}, the API says ${one.toolchain} and ${two.toolchain}`);
  const ih = await rowOf(t, 'input_hash');
  t.check(ih && ih.cells[1] === one.input_hash && ih.cells[2] === two.input_hash && ih.changed === 'true',
    `the input hash row is ${JSON.stringify(ih)}`);

  // the config diff: the added key's lines are "added", nothing of version 1 is lost but a comma
  const diff = await t.until('pre#compare-config-diff', () => t.page.evaluate(() => {
    const pre = document.querySelector('pre#compare-config-diff');
    return pre && [...pre.querySelectorAll('.diff-line')].map((l) => [l.dataset.op, l.textContent]);
  }));
  const added = diff.filter(([op]) => op === 'added').map(([, l]) => l);
  const removed = diff.filter(([op]) => op === 'removed').map(([, l]) => l);
  t.check(added.some((l) => l.startsWith('+ ') && l.includes('"flavour"')), `no added diff line names "flavour": ${t.short(added.join(''))}`);
  t.check(added.some((l) => l.includes('"a key to compare"')), `no added diff line holds the key's doc: ${t.short(added.join(''))}`);
  t.check(removed.length <= 1 && removed.every((l) => l.startsWith('- ')), `removed lines: ${t.short(removed.join(''))}`);
  t.check(!diff.some(([op, l]) => op === 'same' && l.includes('flavour')), 'the flavour lines are shown as unchanged');

  // devices by id, as the two describe answers have them
  const [da, db] = await Promise.all([one, two].map(async (b) => (await t.apiOk('GET', `/builds/${b.id}/describe`, 200)).json()));
  const ma = new Map(da.devices.map((d) => [d.id, d])), mb = new Map(db.devices.map((d) => [d.id, d]));
  const ids = new Set([...ma.keys(), ...mb.keys()]);
  const state = (id) => !mb.has(id) ? 'only-in-A' : !ma.has(id) ? 'only-in-B'
    : ma.get(id).impl !== mb.get(id).impl || ma.get(id).symbol !== mb.get(id).symbol ? 'different-implementation'
      : ma.get(id).deps.join() !== mb.get(id).deps.join() ? 'different-dependencies' : 'same';
  const rows = await t.page.evaluate(() => [...document.querySelectorAll('table#compare-devices tbody tr')].map((r) => [r.dataset.device, r.dataset.state]));
  t.check(rows.length === ids.size && rows.every(([id]) => ids.has(id)), `table#compare-devices lists ${JSON.stringify(rows)}, the builds have ${[...ids]}`);
  for (const [id, st] of rows) t.check(st === state(id), `device ${id} is marked ${st}, the describe answers make it ${state(id)}`);
  t.check(rows.some(([, st]) => st === 'only-in-B'), `no device is only in B (config version 2 applies the job twice): ${JSON.stringify(rows)}`);

  // same bytes (the key changes nothing in the image): said, matching the API
  const same = one.image.sha256 === two.image.sha256;
  const img = await t.page.evaluate(() => { const p = document.querySelector('#compare-image'); return p && [p.dataset.identical, p.textContent]; });
  t.check(img && img[0] === String(same), `#compare-image says ${JSON.stringify(img)}, the API's sha256s are ${same ? '' : 'not '}the same`);
  await axe(t, 'compare');
  await t.shot('compare-config');

  // #/compare/A: B is the previous build of the same target and arch with an image
  await go(t, `#/compare/${two.id}`);
  await t.waitTextMatch('#compare-title', new RegExp(`build ${two.id} \\(A\\) and build ${one.id} \\(B\\)`, 'i'));
  t.check(await t.page.locator('form#compare-pick select#compare-recent option').count() >= 2, 'the picker lists no recent build');
  // the picker goes to #/compare/A/B
  await t.page.fill('#compare-other', String(B.other.id));
  await t.page.click('form#compare-pick button[type=submit]');
  await t.until('the picker to go to the comparison', async () => t.hashOf() === `#/compare/${two.id}/${B.other.id}`);
  await t.waitTextMatch('#compare-title', new RegExp(`build ${B.other.id} \\(B\\)`));
  // a B that does not exist: said, with the picker, not the error banner
  await go(t, `#/compare/${two.id}/999999`);
  await t.waitVisible('#compare-none');
  t.check(/999999/.test(await t.text('#compare-none')), `#compare-none says ${t.short(await t.text('#compare-none'))}`);
  t.check(await t.visible('form#compare-pick') && !(await t.visible('#error')), 'no picker, or the error banner, for a B that does not exist');
}

async function flowIdentical(t) {
  await setUp(t);
  const { one, rebuild, other } = B;
  t.check(rebuild.rebuild_of === one.id && rebuild.cache.hits === 0, `build ${rebuild.id} is no rebuild of ${one.id} that ran every action`);
  t.check(rebuild.image.sha256 === one.image.sha256, `the rebuild of hello made other bytes: ${rebuild.image.sha256} vs ${one.image.sha256}`);
  await go(t, `#/compare/${one.id}/${rebuild.id}`);
  const img = await t.until('#compare-image', () => t.page.evaluate(() => {
    const p = document.querySelector('#compare-image'); return p && [p.dataset.identical, p.textContent];
  }));
  t.check(img[0] === 'true' && /identical/i.test(img[1]), `#compare-image of a rebuild with the same bytes says ${JSON.stringify(img)}`);
  const sha = await rowOf(t, 'sha256');
  t.check(sha && sha.changed === 'false' && sha.cells[1] === one.image.sha256, `the sha256 row is ${JSON.stringify(sha)}`);
  await t.shot('compare-identical');

  // other sources, other bytes: not identical, and the size difference per section and group
  await go(t, `#/compare/${one.id}/${other.id}`);
  const img2 = await t.until('#compare-image', () => t.page.evaluate(() => {
    const p = document.querySelector('#compare-image'); return p && [p.dataset.identical, p.textContent];
  }));
  t.check(img2[0] === 'false' && /differ/.test(img2[1]), `#compare-image of other sources says ${JSON.stringify(img2)}`);
  const src = await rowOf(t, 'sources');
  t.check(src && src.changed === 'true', `the sources row of different trees is ${JSON.stringify(src)}`);
  const [sa, sb] = await Promise.all([one, other].map(async (b) => (await t.apiOk('GET', `/builds/${b.id}/sizes`, 200)).json()));
  await t.waitVisible('table#compare-sections');
  const shown = await t.page.evaluate(() => Object.fromEntries(['compare-sections', 'compare-groups'].map((id) =>
    [id, [...document.querySelectorAll(`table#${id} tbody tr`)].map((r) => [r.dataset.name, Number(r.dataset.diff)])])));
  const want = (la, lb) => {
    const m = new Map(la.map((x) => [x.name, -x.size]));
    for (const x of lb) m.set(x.name, (m.get(x.name) || 0) + x.size);
    return m;
  };
  for (const [id, m] of [['compare-sections', want(sa.sections, sb.sections)],
    ['compare-groups', want([...sa.groups, { name: 'unattributed', size: sa.unattributed }], [...sb.groups, { name: 'unattributed', size: sb.unattributed }])]]) {
    t.check(shown[id].length === m.size, `table#${id} has ${shown[id].length} rows, the API ${m.size} names`);
    for (const [name, d] of shown[id]) t.check(m.get(name) === d, `table#${id}: ${name} differs by ${d}, the API by ${m.get(name)}`);
  }
  t.check(shown['compare-sections'].some(([, d]) => d !== 0), 'no section of other sources changed size');
  await t.shot('compare-differs');
}

async function flowTreemap(t) {
  await setUp(t);
  const id = B.other.id;
  const sz = (await t.apiOk('GET', `/builds/${id}/sizes`, 200)).json();
  await go(t, `#/builds/${id}/size`);
  await t.waitVisible('svg#size-treemap rect.group');
  const rects = await t.page.evaluate(() => [...document.querySelectorAll('svg#size-treemap rect.group')].map((r) => ({
    name: r.dataset.group, area: Number(r.getAttribute('width')) * Number(r.getAttribute('height')),
    tab: r.getAttribute('tabindex'), label: r.getAttribute('aria-label') })));
  const groups = sz.groups.filter((g) => g.size > 0).sort((a, b) => b.size - a.size);
  t.check(rects.length === groups.length + (sz.unattributed > 0 ? 1 : 0),
    `the treemap has ${rects.length} group rects, the API ${groups.length} groups of >0 bytes${sz.unattributed > 0 ? ' and unattributed bytes' : ''}`);
  // areas proportional to sizes: the two largest groups, and the largest against the smallest
  const area = (name) => rects.find((r) => r.name === name)?.area;
  const pairs = groups.length >= 2 ? [[groups[0], groups[1]], [groups[0], groups[groups.length - 1]]] : [];
  t.check(pairs.length > 0, `the image of build ${id} has ${groups.length} groups: too few to compare areas`);
  for (const [a, b] of pairs) {
    const ratio = area(a.name) / area(b.name), want = a.size / b.size;
    t.check(Math.abs(ratio / want - 1) < 0.05, `area ${a.name}/${b.name} is ${ratio.toFixed(3)}, sizes ${want.toFixed(3)}`);
  }
  t.check(rects.every((r) => r.tab === '0' && r.label && r.label.startsWith(r.name)), 'a group rect is not focusable with an aria-label naming it');
  // focus shows the name and size
  await t.page.focus('svg#size-treemap rect.group');
  const info = await t.text('#size-info');
  t.check(info.startsWith(rects[0].name) && /bytes/.test(info), `#size-info after focusing ${rects[0].name} says ${t.short(info)}`);
  // the table lists every group with its bytes, and every section
  const table = await t.page.evaluate(() => [...document.querySelectorAll('table#size-groups > tbody > tr')].map((r) =>
    [r.dataset.group, Number(r.querySelector('td.bytes').textContent)]));
  for (const g of sz.groups) t.check(table.some(([n, v]) => n === g.name && v === g.size), `table#size-groups lacks ${g.name} with ${g.size} bytes`);
  t.check(table.length === sz.groups.length + (sz.unattributed > 0 ? 1 : 0), `table#size-groups has ${table.length} rows`);
  const sections = await t.page.evaluate(() => [...document.querySelectorAll('table#size-sections tbody tr')].map((r) => r.dataset.section));
  t.check(JSON.stringify(sections) === JSON.stringify(sz.sections.map((x) => x.name)), `table#size-sections lists ${sections}`);
  // the symbol named like markup: in the table and the drawing as text, never as an element
  const app = sz.groups.flatMap((g) => g.symbols).find((x) => x.name === HOSTILE);
  t.check(app, `the API lists no symbol ${HOSTILE} in build ${id}'s sizes`);
  const asText = await t.page.evaluate((name) => ({
    cells: [...document.querySelectorAll('table#size-groups td')].filter((c) => c.textContent === name).length,
    titles: [...document.querySelectorAll('svg#size-treemap title')].filter((c) => c.textContent.startsWith(name)).length,
    imgs: document.querySelectorAll('#view img').length,
  }), HOSTILE);
  t.check(asText.cells === 1 && asText.imgs === 0, `the symbol ${HOSTILE} is shown as ${JSON.stringify(asText)}, not as one cell of text`);
  if (app) t.check(asText.titles === 1, `the treemap has ${asText.titles} rects titled ${HOSTILE}, not 1`);
  await axe(t, 'size');
  await t.shot('size-treemap');

  // a failed build has no image: a message, not the error banner
  await go(t, `#/builds/${B.failed.id}/size`);
  await t.waitVisible('#size-unavailable');
  t.check(/image/i.test(await t.text('#size-unavailable')), `#size-unavailable says ${t.short(await t.text('#size-unavailable'))}`);
  t.check(!(await t.visible('#error')), 'the error banner shows for a build without an image');
}

async function flowTrends(t) {
  await setUp(t);
  const all = (await t.apiOk('GET', `/projects/${P}/builds?per_page=100`, 200)).json();
  await go(t, `#/projects/${P}/trends`);
  const arch = B.one.arch;
  const sec = `section.trend[data-target="unix"][data-arch="${arch}"]`;
  await t.waitVisible(`${sec} svg.trend-chart`);
  const mine = all.filter((b) => b.target === 'unix' && b.arch === arch);
  const ran = mine.filter((b) => b.status === 'succeeded' && !b.reused_from);
  const got = await t.page.evaluate((s) => {
    const el = document.querySelector(s);
    return { charts: [...el.querySelectorAll('svg.trend-chart')].map((c) => [...c.querySelectorAll('circle.point')].map((p) => Number(p.dataset.build))),
      rate: { ...el.querySelector('.trend-rate').dataset }, text: el.querySelector('.trend-rate').textContent };
  }, sec);
  const want = ran.map((b) => b.id).sort((a, b) => a - b);
  t.check(got.charts.length === 2, `${got.charts.length} charts, not 2 (duration, size)`);
  for (const c of got.charts) t.check(JSON.stringify([...c].sort((a, b) => a - b)) === JSON.stringify(want), `a chart's points are builds ${c}, not ${want}`);
  const count = (f) => mine.filter(f).length;
  const expect = {
    succeeded: count((b) => b.status === 'succeeded' && !b.reused_from),
    failed: count((b) => b.status === 'failed'), reused: count((b) => b.reused_from),
    cancelled: count((b) => b.status === 'cancelled'),
  };
  expect.finished = expect.succeeded + expect.failed + count((b) => b.status === 'interrupted');
  for (const [k, v] of Object.entries(expect)) t.check(Number(got.rate[k]) === v, `the success rate counts ${k} ${got.rate[k]}, the API ${v}`);
  const pct = Math.round(100 * expect.succeeded / expect.finished);
  t.check(got.text.includes(`${pct} %`) && /reused/.test(got.text) && /cancelled/.test(got.text),
    `the success rate says ${t.short(got.text)}, not ${pct} % with reused and cancelled apart`);
  t.check(expect.reused >= 1 && expect.cancelled >= 1 && expect.failed >= 1, `cmp lacks a reused, cancelled or failed build: ${JSON.stringify(expect)}`);
  await axe(t, 'trends');
  await t.shot('trends');

  // n in the URL: the last 3 builds only
  await go(t, `#/projects/${P}/trends?n=3`);
  await t.waitTextMatch('#trends-count', /^3 builds/);
}

export const flows = [
  ['config-and-keys', flowConfigAndKeys],
  ['identical-bytes', flowIdentical],
  ['treemap', flowTreemap],
  ['trends', flowTrends],
];
