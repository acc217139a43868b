// A project's page (web/projects.js): the build form (the daemon's default target, int keys
// as number inputs, a 422 said once and on its field, keys before Start in Tab order), the
// config versions (the version in the URL across reload and Back, an older version's graph,
// the diff of two versions) and the addresses (an unknown project, a trailing slash).
//
// It makes a project "versions": hello with a configure key `n` (int), whose config version 2
// adds a second job (main2 over default_random), so the two versions draw different graphs.

import fs from 'node:fs';
import path from 'node:path';

const NAME = 'versions';

async function setup(t) {
  if ((await t.api('GET', `/projects/${NAME}`)).status === 200) return;
  const hello = JSON.parse(fs.readFileSync(path.join(t.EXAMPLES, 'hello', 'config.json'), 'utf8'));
  const source = fs.readFileSync(path.join(t.EXAMPLES, 'hello', 'unikernel.c'), 'utf8');
  const v1 = { ...hello, name: NAME, keys: { ...hello.keys,
    n: { stage: 'configure', type: 'int', default: 3, doc: 'a configure key of type int' } } };
  await t.apiOk('POST', '/projects', 201, { body: { name: NAME, config: v1, sources: { 'unikernel.c': source } } });
  const v2 = { ...v1,
    devices: { ...v1.devices, main2: { main: 'random_start', type: 'console -> random -> job', sources: ['unikernel.c'] } },
    jobs: [...v1.jobs, { apply: 'main2', to: ['default_console', 'default_random'] }] };
  await t.apiOk('PUT', `/projects/${NAME}/config`, 201, { body: v2 });
}

async function go(t, hash) {
  await t.page.evaluate((h) => { location.hash = h; }, hash);
  await t.until(`the page to go to ${hash}`, async () => t.hashOf() === hash);
}

async function openVersions(t, query = '') {
  await go(t, `#/projects/${NAME}${query}`);
  await t.waitTextMatch('#project-name', new RegExp(`^\\s*${NAME}\\s*$`));
}

// Once the page's graph names config version v: the SVG the page was answered for it (the
// page's CSP forbids reading the blob: URL back: the answers are taken on their way, by the
// version they asked for, none being the latest) and the image's size.
async function graphOf(t, v, answers, latest) {
  const img = '#graph img#graph-img';
  await t.until(`the graph of config version ${v}`, async () =>
    ((await t.page.locator(img).getAttribute('alt', { timeout: 1000 })) ?? '').endsWith(`config version ${v}`), 30_000);
  const size = await t.until('the graph image to load', () => t.page.evaluate((sel) => {
    const i = document.querySelector(sel);
    return i && i.complete && i.naturalWidth > 0 ? `${i.naturalWidth}x${i.naturalHeight}` : false;
  }, img));
  const svg = await t.until(`an answer of GET /projects/${NAME}/graph for version ${v}`, async () =>
    answers.findLast((a) => a.version === String(v) || (v === latest && a.version === null))?.svg, 5000);
  return { svg, size };
}

const docText = async (t) => (await t.text('pre#config-doc')) ?? '';

export const flows = [
  ['default-target', async (t) => {
    await setup(t);
    const def = (await t.apiOk('GET', '/targets', 200)).json().find((x) => x.default);
    t.check(def && def.name === 'unix', `GET /targets says the default target is ${def && def.name}, not unix`);
    await t.openProject('hello');
    const sel = 'form#build-form select[name=target]';
    await t.until('the build form\'s targets', () => t.page.locator(`${sel} option`).count());
    const first = await t.page.locator(`${sel} option`).first().getAttribute('value');
    t.check(first !== 'unix', `the test proves nothing: the first target offered is already unix (${first})`);
    t.check(await t.page.locator(sel).inputValue() === 'unix', `the build form starts at ${await t.page.locator(sel).inputValue()}, not unix`);
    t.check(await t.page.locator('#graph-target').inputValue() === 'unix', 'the graph does not start at the default target');
    const trends = t.page.locator('a#project-trends');
    t.check(await trends.getAttribute('href') === '#/projects/hello/trends', `the Trends link goes to ${await trends.getAttribute('href')}`);
  }],

  ['int-key-number-input', async (t) => {
    await openVersions(t);
    const field = 'form#build-form input[data-key=n]';
    await t.waitVisible(field);
    t.check(await t.page.locator(field).getAttribute('type') === 'number', `${field} is not type=number`);
    t.check(await t.page.locator(field).inputValue() === '3', `${field} does not start at the default 3`);
    t.check(await t.page.locator('form#build-form select[data-key=n]').count() === 0, 'n is also a select');
  }],

  ['422-on-field', async (t) => {
    await openVersions(t);
    const field = 'form#build-form input[data-key=n]';
    await t.waitVisible(field);
    const before = Number((await t.apiOk('GET', `/projects/${NAME}/builds`, 200)).headers.get('x-total-count'));
    await t.page.fill(field, '99999999999999999999'); // a number, out of an int64's range
    await t.page.click('#build-start');
    try {
      await t.until(`${field} to be aria-invalid`, async () => (await t.page.locator(field).getAttribute('aria-invalid')) === 'true');
    } catch {
      t.check(false, `${field} is not marked aria-invalid after the 422`);
    }
    const msg = 'expected a 64-bit integer';
    const body = await t.page.evaluate(() => document.body.innerText);
    const times = body.split(msg).length - 1;
    t.check(times === 1, `the 422's message shows ${times} times, not once`);
    t.check(!(await t.visible('#error')), `#error shows the 422 besides the field: ${t.short(await t.text('#error'))}`);
    const described = await t.page.locator(field).getAttribute('aria-describedby');
    const note = described ? (await t.text(`#${described}`)) ?? '' : '';
    t.check(note.includes(msg), `the field's description is ${t.short(note)}, not the 422's message`);
    t.check(await t.page.evaluate((sel) => document.activeElement === document.querySelector(sel), field), 'the focus is not on the refused field');
    t.check(!/^#\/builds\//.test(t.hashOf()), `the page went to ${t.hashOf()} after a 422`);
    await t.shot('project-422');
    await t.page.fill(field, '5');
    t.check(!(await t.page.locator(field).getAttribute('aria-invalid')), 'the field stays aria-invalid after it was changed');
    t.check(!(await t.page.evaluate(() => document.body.innerText)).includes(msg), 'the message stays after the field was changed');
    const after = Number((await t.apiOk('GET', `/projects/${NAME}/builds`, 200)).headers.get('x-total-count'));
    t.check(after === before, `a build was created by the refused request (${before} -> ${after})`);
  }],

  ['tab-order', async (t) => {
    await openVersions(t);
    await t.waitVisible('form#build-form input[data-key=n]');
    await t.page.focus('#build-target');
    const seen = [];
    for (let i = 0; i < 20; i++) {
      await t.page.keyboard.press('Tab');
      const at = await t.page.evaluate(() => document.activeElement.dataset.key || document.activeElement.id);
      seen.push(at);
      if (at === 'build-start') break;
    }
    t.check(seen.includes('build-start'), `Tab from the target never reached Start build: ${seen.join(', ')}`);
    t.check(seen.includes('n') && seen.indexOf('n') < seen.indexOf('build-start'), `Tab order: ${seen.join(', ')}: the key n is not before Start`);
    const hint = await t.page.locator('#build-force').getAttribute('aria-describedby');
    const said = hint ? (await t.text(`#${hint}`)) ?? '' : '';
    t.check(/every action/.test(said) && /reus/.test(said), `force is not explained: ${t.short(said)}`);
  }],

  ['version-in-url', async (t) => {
    await openVersions(t);
    await t.until('the config of version 2', async () => (await docText(t)).includes('random_start'));
    await t.page.selectOption('#config-version', '1');
    await t.until('the hash to hold version=1', async () => /[?&]version=1\b/.test(t.hashOf()));
    await t.until('the config of version 1', async () => !(await docText(t)).includes('random_start') && (await docText(t)).includes('hello_start'));
    await t.page.reload();
    await t.waitTextMatch('#project-name', new RegExp(`^\\s*${NAME}\\s*$`));
    t.check(await t.page.locator('#config-version').inputValue() === '1', 'after a reload #config-version is not 1');
    await t.until('the config of version 1 after the reload', async () => (await docText(t)).includes('hello_start') && !(await docText(t)).includes('random_start'));
    await t.page.selectOption('#config-version', '2');
    await t.until('the hash to hold version=2', async () => /[?&]version=2\b/.test(t.hashOf()));
    await t.until('the config of version 2', async () => (await docText(t)).includes('random_start'));
    await t.page.goBack();
    await t.until('Back to bring version=1', async () => /[?&]version=1\b/.test(t.hashOf()));
    try {
      await t.until('#config-version to be 1 after Back', async () => (await t.page.locator('#config-version').inputValue()) === '1');
      await t.until('the config of version 1 after Back', async () => !(await docText(t)).includes('random_start'));
    } catch (e) {
      t.check(false, `after Back: ${e.message}`);
    }
  }],

  ['older-version-graph', async (t) => {
    const answers = [];
    // taken on their way through the test (Playwright's response.body() is empty for what the
    // page read as a blob)
    const isGraph = (url) => url.origin === t.daemon.origin && url.pathname === `/projects/${NAME}/graph`;
    await t.page.route(isGraph, async (route) => {
      const res = await route.fetch();
      const body = await res.body();
      answers.push({ version: new URL(route.request().url()).searchParams.get('version'), svg: body.toString('utf8') });
      await route.fulfill({ response: res, body });
    });
    try {
      await openVersions(t, '?version=2');
      const v2 = await graphOf(t, 2, answers, 2);
      await t.page.selectOption('#config-version', '1');
      const v1 = await graphOf(t, 1, answers, 2);
      t.check(v2.svg && v2.svg.includes('random_start'), 'the graph of version 2 has no random_start (main2)');
      t.check(v1.svg && v1.svg.includes('hello_start') && !v1.svg.includes('random_start'),
        'the graph drawn for version 1 is not version 1\'s (it has random_start)');
      t.check(v1.size !== v2.size, `the images of versions 1 and 2 have the same size ${v1.size}`);
      await t.shot('project-version-1-graph');
    } finally {
      await t.page.unroute(isGraph);
    }
  }],

  ['config-diff', async (t) => {
    await openVersions(t, '?version=2');
    await t.page.selectOption('#config-diff-base', '1');
    await t.until('the hash to hold diff=1', async () => /[?&]diff=1\b/.test(t.hashOf()));
    await t.waitVisible('pre#config-diff');
    const added = await t.page.locator('pre#config-diff ins').allTextContents();
    const removed = await t.page.locator('pre#config-diff del').allTextContents();
    t.check(added.some((l) => l.includes('"main2"')) && added.some((l) => l.includes('random_start')),
      `the diff's added lines lack main2: ${t.short(added.join(''))}`);
    t.check(added.every((l) => l.startsWith('+ ')), 'an added line does not start with "+ "');
    t.check(removed.every((l) => !l.includes('random_start')), `the diff removes ${t.short(removed.join(''))}`);
    // what the diff leaves unmarked, with what it added, is version 2; with what it removed, version 1
    const lines = await t.page.evaluate(() => [...document.querySelector('pre#config-diff').childNodes]
      .map((n) => [n.nodeName, n.textContent]));
    const v = (keep) => lines.filter(([k]) => k !== keep).map(([, s]) => s.slice(2)).join('');
    const doc = async (n) => JSON.stringify((await t.apiOk('GET', `/projects/${NAME}/config?version=${n}`, 200)).json(), null, 2) + '\n';
    t.check(v('DEL') === await doc(2), 'the diff\'s unmarked and added lines are not version 2');
    t.check(v('INS') === await doc(1), 'the diff\'s unmarked and removed lines are not version 1');
    const summary = (await t.text('#config-diff-summary')) ?? '';
    t.check(new RegExp(`${added.length} lines? added`).test(summary), `the diff's summary says ${t.short(summary)}, ${added.length} lines were added`);
    await t.shot('project-config-diff');
  }],

  ['unknown-project', async (t) => {
    await go(t, '#/projects/nope');
    await t.waitTextMatch('#view h1', /No project named nope/);
    const back = t.page.locator('#view a[href="#/projects"]');
    t.check(await back.count() >= 1, 'the unknown project\'s page has no link back to #/projects');
    t.check(!(await t.visible('#error')), `a banner shows besides the page: ${t.short(await t.text('#error'))}`);
    await t.shot('project-unknown');
    await back.first().click();
    await t.waitVisible('table#projects');
  }],

  ['trailing-slash', async (t) => {
    await go(t, '#/projects/hello/');
    await t.waitTextMatch('#project-name', /^\s*hello\s*$/);
  }],
];
