// Browser tests of the dashboard's shell (web/app.js, lib.js, index.html,
// style.css, tokens.js): the header's token and scope, the tokens page,
// titles, the nav, scroll on Back, "Not found", focus and announcements on
// navigation, the skip link, the focus ring, contrast, phones, a daemon that
// does not answer, and axe-core on every page in both colour schemes.
// Loaded by tests/web/dashboard.test.mjs (see `flows` there): t is its harness.

// Every page the checks of every page (phones, contrast, axe) visit, in
// order: name, the hash to go to (or an async function of the harness that
// answers it), a selector shown once the page has loaded, and `pending`:
// selectors of parts that other helpers' modules still fix on their
// branches (axe's findings there are notes; drop them once merged). Pages a
// module adds go here.
export const PAGES = [
  { name: 'projects', hash: '#/projects', ready: 'table#projects tr[data-project="hello"]' },
  { name: 'project', hash: '#/projects/hello', ready: '#graph img#graph-img',
  },
  { name: 'build-succeeded', hash: async (t) => `#/builds/${await buildOf(t, 'hello', 'succeeded')}`, ready: '#build-facts', terminal: true },
  { name: 'build-failed', hash: async (t) => `#/builds/${await buildOf(t, 'broken', 'failed')}`, ready: '#build-facts', terminal: true },
  { name: 'compare', hash: async (t) => `#/compare/${await buildOf(t, 'hello', 'succeeded')}`, ready: '#compare-title' },
  // statuses that differ: the row of the outcome marked (its status colours on the mark)
  { name: 'compare-failed-succeeded', hash: async (t) => `#/compare/${await buildOf(t, 'broken', 'failed')}/${await buildOf(t, 'hello', 'succeeded')}`,
    ready: 'table#compare-inputs tr[data-changed="true"] .status-succeeded' },
  { name: 'size', hash: async (t) => `#/builds/${await buildOf(t, 'hello', 'succeeded')}/size`, ready: 'svg#size-treemap' },
  { name: 'trends', hash: '#/projects/hello/trends', ready: '#trends-count' },
  { name: 'queue', hash: '#/queue', ready: 'table#queue' },
  { name: 'builds', hash: '#/builds', ready: 'table#builds' },
  { name: 'builds-empty', hash: '#/builds?q=no-build-has-this', ready: 'table#builds tr.empty-row td.empty' },
  { name: 'targets', hash: '#/targets', ready: 'table#targets' },
  { name: 'tokens', hash: '#/tokens', ready: 'table#tokens' },
  { name: 'not-found', hash: '#/projects/no-such-project', ready: '#not-found' },
];

// A build of `project` that ended `status` (made when the suite runs alone).
const builds = {};
async function buildOf(t, project, status) {
  const key = `${project}/${status}`;
  if (builds[key]) return builds[key];
  const got = (await t.apiOk('GET', `/projects/${project}/builds?status=${status}&per_page=1`, 200)).json();
  if (got.length) return (builds[key] = got[0].id);
  const b = (await t.apiOk('POST', `/projects/${project}/build`, 202, { body: { target: 'unix' } })).json();
  const done = await t.apiWaitTerminal(b.id, t.BUILD_TIMEOUT_MS);
  if (done.status !== status) throw new Error(`the build ${b.id} of ${project} ${done.status}, not ${status}`);
  return (builds[key] = b.id);
}

// Goes to a page of PAGES (as a link would) and waits until it has loaded.
async function open(t, p) {
  const hash = typeof p.hash === 'function' ? await p.hash(t) : p.hash;
  if (t.hashOf() === hash) await t.page.evaluate(() => { location.hash = '#/'; });
  await t.page.evaluate((x) => { location.hash = x; }, hash);
  await t.until(`the page to go to ${hash}`, async () => t.hashOf() === hash);
  await t.waitVisible(p.ready, 30_000);
  if (p.terminal) await t.until('the build page to show a terminal status', async () =>
    t.TERMINAL.includes(((await t.text('#build-status')) ?? '').trim()), 30_000);
  await t.sleep(150); // the router's focus and announcement follow the first render
  return hash;
}

const title = (t) => t.page.evaluate(() => document.title);
const go = async (t, hash) => {
  await t.page.evaluate((x) => { location.hash = x; }, hash);
  await t.until(`the page to go to ${hash}`, async () => t.hashOf() === hash);
};

// -- the flows ------------------------------------------------------------------------------------

// The header says which token is in use and its scope; the Tokens link shows to admin tokens only,
// and the tokens page tells a smaller token why it shows nothing.
async function flowWhoami(t) {
  const { page } = t;
  const me = (await t.apiOk('GET', '/whoami', 200)).json();
  await open(t, PAGES[0]);
  await t.waitVisible('#whoami');
  const name = ((await t.text('#whoami-name')) ?? '').trim();
  check(t, name === (me.name || `token #${me.id}`), `#whoami-name is ${t.short(name)}, GET /whoami says ${t.short(me.name)} (id ${me.id})`);
  check(t, ((await t.text('#whoami-scope')) ?? '').trim() === 'admin', `#whoami-scope of the admin token is ${t.short(await t.text('#whoami-scope'))}`);
  check(t, await t.visible('nav#nav a[href="#/tokens"]'), 'the admin token sees no Tokens link in nav#nav');

  const read = (await t.apiOk('POST', '/tokens', 201, { body: { scope: 'read', name: 'shell <b>reader</b>' } })).json();
  try {
    await t.enterToken(read.token);
    await t.until('#whoami-scope to say read', async () => ((await t.text('#whoami-scope')) ?? '').trim() === 'read');
    check(t, ((await t.text('#whoami-name')) ?? '').trim() === 'shell <b>reader</b>', `#whoami-name of the read token is ${t.short(await t.text('#whoami-name'))}`);
    check(t, await page.locator('#whoami b').count() === 0, 'the token\'s name became HTML in #whoami');
    check(t, !(await t.visible('nav#nav a[href="#/tokens"]')), 'a read token sees the Tokens link');
    await go(t, '#/tokens');
    await t.waitVisible('#tokens-denied');
    const denied = (await t.text('#tokens-denied')) ?? '';
    check(t, /admin/.test(denied) && /read/.test(denied), `#tokens-denied does not say admin is needed and read is had: ${t.short(denied)}`);
    check(t, await page.locator('#token-create-form').count() === 0, 'a read token is offered the create form');
    await t.shot('shell-tokens-read');
  } finally {
    await t.enterToken(t.daemon.token);
    await t.until('the admin token to be stored', async () => (await t.storedToken()) === t.daemon.token);
    await t.apiOk('DELETE', `/tokens/${read.id}`, 204);
  }
}

// The tokens page: the list a page at a time with its total, creating a token (its secret shown
// once, copied), and revoking one after a confirmation.
async function flowTokens(t) {
  const { page } = t;
  await t.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.daemon.origin });
  const extra = [];
  try {
    for (let i = 0; i < 22; i++) extra.push((await t.apiOk('POST', '/tokens', 201, { body: { scope: 'read', name: `bulk ${i}` } })).json().id);
    const total = Number((await t.apiOk('GET', '/tokens?per_page=1', 200)).headers.get('x-total-count'));
    await open(t, PAGES.find((p) => p.name === 'tokens'));
    const rows = () => page.locator('table#tokens tbody tr[data-token]').count();
    check(t, await rows() === 20, `table#tokens shows ${await rows()} rows of ${total}, not a page of 20`);
    const said = (await t.text('#tokens-total')) ?? '';
    check(t, said.includes(`${total} tokens`) && said.includes(`of ${Math.ceil(total / 20)}`), `#tokens-total says ${t.short(said)} with ${total} tokens`);
    await page.click('#tokens-next');
    await t.until('the page to be #/tokens?page=2', async () => t.hashOf() === '#/tokens?page=2');
    await t.until('the second page of tokens', async () => (await rows()) === total - 20);
    await page.goBack();
    await t.until('Back to return to the first page', async () => t.hashOf() === '#/tokens' && (await rows()) === 20);

    // create: the secret once, with a warning and a copy button
    await page.fill('#token-name', 'shell <i>made</i>');
    await page.selectOption('#token-scope', 'read');
    await page.click('#token-create');
    await t.waitVisible('#token-secret-value');
    const secret = ((await t.text('#token-secret-value')) ?? '').trim();
    check(t, /^mgd_[A-Za-z0-9_-]{43}$/.test(secret), `#token-secret-value is ${t.short(secret)}`);
    check(t, /not|never/i.test((await t.text('#token-secret')) ?? ''), '#token-secret has no warning that the token is not shown again');
    const works = await t.api('GET', '/projects', { token: secret });
    check(t, works.status === 200, `the token the page showed does not work: GET /projects answers ${works.status} ${t.short(works.text)}`);
    const all = (await t.apiOk('GET', '/tokens?per_page=100&page=2', 200)).json().concat((await t.apiOk('GET', '/tokens?per_page=100', 200)).json());
    const made = all.filter((x) => x.name === 'shell <i>made</i>');
    check(t, made.length === 1 && made[0].scope === 'read', `GET /tokens has ${JSON.stringify(made)} named "shell <i>made</i>"`);
    const id = made.length ? made[0].id : null;
    await page.click('#token-copy');
    await t.until('#token-copied to say something', async () => ((await t.text('#token-copied')) ?? '').trim());
    const copied = await page.evaluate(() => navigator.clipboard.readText()).catch(() => null);
    check(t, copied === secret, `the clipboard holds ${t.short(copied)} after Copy, not the token`);
    await t.shot('shell-token-created');

    // the new token is listed, its name as text; revoking asks first
    const total2 = total + 1;
    await page.click('#tokens-next');
    const row = `table#tokens tr[data-token="${id}"]`;
    await t.waitVisible(row);
    check(t, ((await t.text(`${row} td.name`)) ?? '').includes('shell <i>made</i>'), `${row} does not show the name as text`);
    check(t, await page.locator(`${row} td.name i`).count() === 0, 'the token\'s name became HTML in the list');
    await page.click(`${row} button.revoke`);
    await t.waitVisible(`${row} button.keep`);
    await page.click(`${row} button.keep`);
    await t.waitVisible(`${row} button.revoke`);
    check(t, (await t.api('GET', '/projects', { token: secret })).status === 200, 'Keep revoked the token');
    await page.click(`${row} button.revoke`);
    await page.click(`${row} button.confirm-revoke`);
    await t.until(`${row} to go`, async () => (await page.locator(row).count()) === 0);
    check(t, (await t.api('GET', '/projects', { token: secret })).status === 401, 'the revoked token still works');
    const said2 = (await t.text('#tokens-total')) ?? '';
    check(t, said2.includes(`${total2 - 1} tokens`), `#tokens-total says ${t.short(said2)} after a revoke, not ${total2 - 1} tokens`);
  } finally {
    for (const x of extra) await t.api('DELETE', `/tokens/${x}`);
  }
}

// The tab's title per page, the nav's highlight, a trailing "/", and "Not found" pages.
async function flowTitlesNav(t) {
  const { page } = t;
  const active = () => page.locator('nav#nav a.active').evaluateAll((as) => as.map((a) => a.getAttribute('href') + (a.getAttribute('aria-current') === 'page' ? '*' : '')));
  // Builds: once the `lists` helper's #/builds is merged; Tokens: to admin tokens (checked in whoami)
  const builds = await t.visible('nav#nav a[href="#/builds"]');
  const tokens = await t.visible('nav#nav a[href="#/tokens"]');
  const wants = [
    ['projects', /^Projects · mgd$/, ['#/projects*']],
    ['project', /^hello · mgd$/, ['#/projects*']],
    ['build-succeeded', /^Build \d+( · hello)? · mgd$/, builds ? ['#/builds*'] : []],
    ['queue', /^Queue · mgd$/, ['#/queue*']],
    ['targets', /^Targets · mgd$/, ['#/targets*']],
    ['tokens', /^Tokens · mgd$/, tokens ? ['#/tokens*'] : []],
  ];
  for (const [name, re, nav] of wants) {
    await open(t, PAGES.find((p) => p.name === name));
    const got = await title(t);
    check(t, re.test(got), `the title of ${name} is ${t.short(got)}, not ${re}`);
    const a = await active();
    check(t, a.join(',') === nav.join(','), `on ${name} nav#nav highlights ${t.short(a.join(','))}, not ${t.short(nav.join(','))} (* = aria-current)`);
  }
  // loaded directly (a reload): the Tokens link shows once GET /whoami answers, highlighted
  if (tokens) {
    await go(t, '#/tokens');
    await page.reload();
    await t.waitVisible('table#tokens');
    await t.until('the Tokens link to show', () => t.visible('nav#nav a[href="#/tokens"]'));
    const a = await active();
    check(t, a.join(',') === '#/tokens*', `#/tokens reloaded: nav#nav highlights ${t.short(a.join(','))}, not #/tokens* (* = aria-current)`);
  }
  await go(t, '#/projects/hello/');
  await t.waitTextMatch('#project-name', /^\s*hello\s*$/);

  for (const [hash, what] of [['#/projects/no-such-project', 'no-such-project'], ['#/builds/987654', '987654'], ['#/no/such/page', '#/no/such/page']]) {
    await go(t, hash);
    await t.waitVisible('#not-found h1');
    check(t, ((await t.text('#not-found h1')) ?? '').trim() === 'Not found', `${hash}: #not-found's h1 is ${t.short(await t.text('#not-found h1'))}`);
    const body = (await t.text('#not-found')) ?? '';
    check(t, body.includes(what) || /not.*found|no such/i.test(body.replace('Not found', '')), `${hash}: #not-found does not say what is missing: ${t.short(body)}`);
    check(t, await page.locator('#not-found a[href="#/projects"]').count() === 1, `${hash}: #not-found has no way back to the projects`);
    check(t, (await title(t)) === 'Not found · mgd', `${hash}: the title is ${t.short(await title(t))}`);
    check(t, !(await t.visible('#error')), `${hash}: a banner shows besides the Not found page: ${t.short(await t.text('#error'))}`);
  }
  await t.shot('shell-not-found');
}

// Back restores the scroll position of the page it returns to; a new page starts at the top.
async function flowScrollBack(t) {
  const { page } = t;
  const size = page.viewportSize();
  await page.setViewportSize({ width: 1280, height: 420 });
  try {
    await open(t, PAGES.find((p) => p.name === 'project'));
    await t.waitVisible('table#builds');
    await t.sleep(300);
    const max = await page.evaluate(() => document.documentElement.scrollHeight - innerHeight);
    const y = Math.min(700, max - 20);
    check(t, y > 200, `the project page is too short to test scrolling (${max} px to scroll)`);
    await page.evaluate((v) => window.scrollTo(0, v), y);
    await t.sleep(300);
    await go(t, '#/targets');
    await t.waitVisible('table#targets');
    await t.sleep(300);
    const top = await page.evaluate(() => window.scrollY);
    check(t, top === 0, `the targets page opened from a scrolled page starts at ${top}, not the top`);
    await page.goBack();
    await t.until('the project page again', async () => t.hashOf() === '#/projects/hello');
    try {
      await t.until(`the scroll position to come back to ${y}`, async () => Math.abs((await page.evaluate(() => window.scrollY)) - y) <= 2, 8000);
    } catch {
      check(t, false, `Back to the project page scrolled to ${await page.evaluate(() => window.scrollY)}, not ${y}`);
    }
  } finally {
    await page.setViewportSize(size);
  }
}

// Navigation moves the focus to the new page's h1 and announces its title; the skip link goes to
// the content; the focus ring is visible (2 px or more, offset, 3:1 against its background).
async function flowFocus(t) {
  const { page } = t;
  await open(t, PAGES.find((p) => p.name === 'projects'));
  await page.click('nav#nav a[href="#/queue"]');
  await t.until('the page to go to #/queue', async () => t.hashOf() === '#/queue');
  try {
    await t.until('the focus on the queue\'s h1', () => page.evaluate(() => {
      const a = document.activeElement;
      return a && a.tagName === 'H1' && document.querySelector('#view').contains(a) && a.textContent.trim() === 'Queue';
    }), 5000);
  } catch {
    check(t, false, `after following Queue the focus is on ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))}`);
  }
  try {
    await t.until('#announce to say the title', async () => ((await t.text('#announce')) ?? '').trim() === await title(t), 3000);
  } catch {
    check(t, false, `#announce says ${t.short(await t.text('#announce'))}, the title is ${t.short(await title(t))}`);
  }
  check(t, await page.locator('#announce[aria-live="polite"]').count() === 1, '#announce is not an aria-live region');

  // the skip link: the first thing Tab reaches, visible then, to the content
  await page.goto(`${t.daemon.origin}/#/projects`);
  await page.reload();
  await t.waitVisible('table#projects a.project-link');
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement?.id);
  check(t, first === 'skip-link', `the first Tab stop is #${first}, not #skip-link`);
  const box = await page.locator('#skip-link').boundingBox();
  check(t, !!box && box.x >= 0 && box.y >= 0 && box.width > 20, `#skip-link is not on the screen when focused: ${JSON.stringify(box)}`);
  const ring = await page.evaluate(() => {
    const cs = getComputedStyle(document.activeElement);
    let bg = null;
    for (let e = document.activeElement.parentElement; e && !bg; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') bg = c;
    }
    return { style: cs.outlineStyle, width: parseFloat(cs.outlineWidth), offset: parseFloat(cs.outlineOffset), color: cs.outlineColor,
      bg: bg || getComputedStyle(document.documentElement).getPropertyValue('--bg') };
  });
  check(t, ring.style !== 'none' && ring.width >= 2 && ring.offset >= 1, `the focus ring of #skip-link is ${JSON.stringify(ring)}, not 2 px or more with an offset`);
  const rc = t.contrast(ring.color, ring.bg);
  check(t, rc >= 3, `the focus ring ${ring.color} on ${ring.bg} has contrast ${rc.toFixed(2)}, under 3`);
  await page.keyboard.press('Enter');
  check(t, t.hashOf() === '#/projects', `the skip link changed the hash to ${t.hashOf()}`);
  const landed = await page.evaluate(() => ({ tag: document.activeElement?.tagName, inMain: !!document.activeElement?.closest('main') }));
  check(t, landed.inMain, `the skip link moved the focus to ${JSON.stringify(landed)}, not into main`);
  await page.keyboard.press('Tab');
  const next = await page.evaluate(() => ({ inMain: !!document.activeElement?.closest('main'), tag: document.activeElement?.tagName }));
  check(t, next.inMain, `Tab after the skip link goes to ${JSON.stringify(next)}, outside main`);

  // the shell's own fields are labelled
  for (const hash of ['#/tokens']) {
    await go(t, hash);
    await t.waitVisible('#token-create-form');
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('#view input, #view select, #view textarea')]
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e) => e.id || e.name));
    check(t, unlabelled.length === 0, `${hash}: fields without a label: ${unlabelled.join(', ')}`);
  }
}

// The colour schemes' pairs (text on both backgrounds, buttons, field borders, the focus ring).
async function flowPalette(t) {
  const { page } = t;
  const pairs = [
    ...['--fg', '--muted', '--accent', '--ok', '--bad', '--warn', '--run'].flatMap((f) => [[f, '--bg', 4.5], [f, '--card', 4.5]]),
    ['--btn-fg', '--btn-bg', 4.5], ['--danger-fg', '--bad', 4.5],
    ['--field', '--card', 3], ['--field', '--bg', 3], ['--focus', '--card', 3], ['--focus', '--bg', 3],
  ];
  try {
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      const vars = await page.evaluate((names) => {
        const cs = getComputedStyle(document.documentElement);
        return Object.fromEntries(names.map((n) => [n, cs.getPropertyValue(n).trim()]));
      }, [...new Set(pairs.flatMap(([a, b]) => [a, b]))]);
      for (const [fg, bg, min] of pairs) {
        const r = t.contrast(vars[fg], vars[bg]);
        check(t, r >= min, `${scheme}: ${fg} ${vars[fg]} on ${bg} ${vars[bg]} has contrast ${r.toFixed(2)}, under ${min}`);
      }
      // and as drawn: a button's text on its background
      await open(t, PAGES.find((p) => p.name === 'tokens'));
      const btn = await page.evaluate(() => {
        const cs = getComputedStyle(document.querySelector('#token-create'));
        return { fg: cs.color, bg: cs.backgroundColor };
      });
      const r = t.contrast(btn.fg, btn.bg);
      check(t, r >= 4.5, `${scheme}: #token-create is ${btn.fg} on ${btn.bg}, contrast ${r.toFixed(2)}`);
      await t.shot(`shell-tokens-${scheme}`);
    }
  } finally {
    await page.emulateMedia({ colorScheme: null });
  }
}

// Every visible text of the page against its background, as drawn (4.5:1, 3:1 for large text).
async function textContrast(t, pageName) {
  const items = await t.page.evaluate(() => {
    const out = [];
    const visible = (e) => {
      const r = e.getBoundingClientRect();
      if (!r.width || !r.height) return false;
      for (let x = e; x; x = x.parentElement) {
        const cs = getComputedStyle(x);
        if (cs.visibility === 'hidden' || cs.display === 'none' || cs.clip === 'rect(0px, 0px, 0px, 0px)') return false;
      }
      return true;
    };
    for (const e of document.body.querySelectorAll('*')) {
      if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
      if (e.closest('[disabled], option, script, style, noscript') || !visible(e)) continue;
      const cs = getComputedStyle(e);
      const layers = [];
      for (let x = e; x; x = x.parentElement) {
        const c = getComputedStyle(x).backgroundColor;
        layers.push(c);
        if (/^rgb\(/.test(c)) break;
      }
      out.push({ sel: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''),
        text: e.textContent.trim().slice(0, 30), fg: cs.color, layers, size: parseFloat(cs.fontSize), weight: Number(cs.fontWeight),
        base: getComputedStyle(document.documentElement).getPropertyValue('--bg').trim() });
    }
    return out;
  });
  const bad = [];
  for (const it of items) {
    // composite the backgrounds from the page's own up to the element's
    let bg = t.parseColor(it.base);
    for (const l of it.layers.reverse()) {
      const c = t.parseColor(l);
      bg = [0, 1, 2].map((i) => c[i] * c[3] + bg[i] * (1 - c[3])).concat(1);
    }
    const r = t.contrast(it.fg, `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`);
    const large = it.size >= 24 || (it.size >= 18.66 && it.weight >= 700);
    if (r < (large ? 3 : 4.5)) bad.push(`${it.sel} ${t.short(it.text, 30)} ${r.toFixed(2)}`);
  }
  check(t, bad.length === 0, `${pageName}: text under WCAG AA contrast: ${bad.slice(0, 6).join('; ')}${bad.length > 6 ? ` and ${bad.length - 6} more` : ''}`);
  return items.length;
}

// axe-core and the contrast of every text on every page, in both colour schemes, on a wide
// screen and on a phone (390 x 844: wide tables scroll in boxes of their own there).
async function flowAxe(t) {
  const { page } = t;
  const size = page.viewportSize();
  try {
    for (const [w, h] of [[size.width, size.height], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        for (const p of PAGES) {
          await open(t, p);
          const at = `${p.name} (${scheme}, ${w} px)`;
          await t.axe(at, { pending: p.pending || [] });
          const n = await textContrast(t, at);
          check(t, n > 5, `${at}: only ${n} texts checked for contrast`);
        }
      }
    }
    await page.setViewportSize(size);
    // the token form too
    await page.click('#token-forget');
    await t.waitVisible('#token-form');
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      await t.axe(`token form (${scheme})`);
      await textContrast(t, `token form (${scheme})`);
    }
  } finally {
    await page.setViewportSize(size);
    await page.emulateMedia({ colorScheme: null });
    if (await t.visible('#token-form')) await t.enterToken(t.daemon.token);
    await t.until('the admin token to be stored', async () => (await t.storedToken()) === t.daemon.token);
  }
}

// Phones (390 x 844): nothing wider than the screen, tables scroll in their own box (and stay tables
// for assistive technology), "Forget token" on one line.
async function flowPhone(t) {
  const { page } = t;
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    for (const p of PAGES) {
      await open(t, p);
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      check(t, w <= 390, `${p.name} on a phone is ${w} px wide`);
      const lines = await page.evaluate(() => {
        const r = document.createRange();
        r.selectNodeContents(document.querySelector('#token-forget'));
        return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
      });
      check(t, lines === 1, `${p.name}: "Forget token" wraps onto ${lines} lines on a phone`);
      await t.shot(`shell-phone-${p.name}`);
    }
    // a table wider than the phone scrolls inside its box, and is still a table
    await open(t, PAGES.find((p) => p.name === 'queue'));
    await open(t, PAGES.find((p) => p.name === 'targets'));
    const box = await page.evaluate(() => {
      const b = document.querySelector('table#targets').parentElement;
      return { scroll: b.scrollWidth, client: b.clientWidth, right: b.getBoundingClientRect().right, overflow: getComputedStyle(b).overflowX,
        role: b.getAttribute('role'), label: b.getAttribute('aria-label'), tabindex: b.getAttribute('tabindex') };
    });
    // the box scrolls, and while it does a keyboard reaches it (a named region)
    check(t, box.right <= 390 && box.overflow === 'auto' && box.role === 'region' && box.label === 'targets' &&
      (box.scroll > box.client) === (box.tabindex === '0'), `table#targets' box on a phone: ${JSON.stringify(box)}`);
    const cdp = await t.context.newCDPSession(page);
    try {
      const { nodes } = await cdp.send('Accessibility.getFullAXTree');
      const tables = nodes.filter((n) => !n.ignored && n.role && n.role.value === 'table').length;
      const dom = await page.locator('#view table').count();
      check(t, tables >= dom && dom > 0, `on a phone the accessibility tree has ${tables} tables, the page ${dom}`);
      const headers = nodes.filter((n) => !n.ignored && n.role && n.role.value === 'columnheader').length;
      check(t, headers >= 5, `on a phone the accessibility tree has ${headers} column headers on the targets page`);
    } finally {
      await cdp.detach();
    }
  } finally {
    await page.setViewportSize(size);
  }
}

// The daemon away (its answers refused with page.route): the header says offline, the running
// pulse stops, the pages ask at most every 5 s or so, a link leads to a page saying the daemon
// cannot be reached, and everything comes back when it answers again.
async function flowDaemonDown(t) {
  const { page } = t;
  const origin = t.daemon.origin;
  await open(t, PAGES.find((p) => p.name === 'queue'));
  // a running status as the pages draw it (statusSpan): its pulse
  const pulse = () => page.evaluate(() => {
    let s = document.querySelector('#shell-test-running');
    if (!s) {
      s = document.createElement('span');
      s.id = 'shell-test-running';
      s.className = 'status status-running';
      s.textContent = 'running';
      document.querySelector('#view').append(s);
    }
    return getComputedStyle(s, '::before').animationName;
  });
  check(t, (await pulse()) === 'pulse', `a running status does not pulse while the daemon answers: ${await pulse()}`);
  let requests = 0;
  const down = async (route) => { requests++; await route.abort('connectionrefused'); };
  const isApi = (url) => url.origin === origin && !url.pathname.startsWith('/ui/') && url.pathname !== '/';
  await page.route(isApi, down);
  let routed = true;
  try {
    // the queue's event stream is already open, where routing cannot reach
    // (a stopped daemon would close it): the next page's first request finds
    // the daemon away
    await page.click('nav#nav a[href="#/targets"]');
    await t.until('#offline to show', () => t.visible('#offline'), 10_000);
    check(t, await page.evaluate(() => document.body.classList.contains('offline')), 'body has no class offline');
    check(t, (await pulse()) === 'none', `a running status still pulses while the daemon is away: ${await pulse()}`);
    await t.shot('shell-offline');
    await t.sleep(1000);
    requests = 0;
    await t.sleep(12_000);
    check(t, requests <= 3, `${requests} requests in 12 s while the daemon was away (at most one per 5 s or so)`);

    await t.until('the page to go to #/targets', async () => t.hashOf() === '#/targets');
    await t.waitVisible('#unreachable h1', 10_000);
    const says = (await t.text('#unreachable')) ?? '';
    check(t, /cannot be reached/.test(says), `#unreachable says ${t.short(says)}`);
    await t.shot('shell-unreachable');

    await page.unroute(isApi, down);
    routed = false;
    await t.waitVisible('table#targets tr[data-target="unix/x86_64"]', 15_000);
    await t.until('#offline to go', async () => !(await t.visible('#offline')), 5000);
    check(t, !(await t.visible('#error')), `a banner stays after the daemon came back: ${t.short(await t.text('#error'))}`);
    check(t, !(await page.evaluate(() => document.body.classList.contains('offline'))), 'body keeps the class offline');
    await go(t, '#/queue');
    await t.waitVisible('table#queue');
  } finally {
    if (routed) await page.unroute(isApi, down);
  }
}

// A read token: an action it may not take says why to those who cannot hover (keyboard, screen
// reader, touch): the queue's Cancel and the build page's Rebuild (lib.js requireScope).
async function flowScopeReasons(t) {
  const { page } = t;
  // the reason of `sel`, if a keyboard user gets it: null when not
  const reason = (sel) => page.evaluate((s) => {
    const el = document.querySelector(s);
    if (!el) return null;
    const notes = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean)
      .map((id) => document.getElementById(id)).filter(Boolean);
    const text = notes.map((n) => n.textContent).join(' ');
    const seen = notes.some((n) => n.getClientRects().length > 0 && n.parentElement === el.parentElement);
    const focusable = !el.disabled && el.tabIndex >= 0;
    return /write/.test(text) && (seen || focusable) ? text : null;
  }, sel);
  const read = (await t.apiOk('POST', '/tokens', 201, { body: { scope: 'read', name: 'shell-read' } })).json();
  const ids = [];
  try {
    const done = await buildOf(t, 'hello', 'succeeded');
    await t.enterToken(read.token);
    await t.until('the read token to be stored', async () => (await t.storedToken()) === read.token);
    await open(t, PAGES.find((p) => p.name === 'build-succeeded'));
    await t.until(`#build-rebuild of build ${done} to say why it is disabled`, () => reason('#build-rebuild'), 5000)
      .catch(() => check(t, false, `#build-rebuild does not tell a keyboard user why it is disabled (a visible note or aria-describedby)`));
    await open(t, PAGES.find((p) => p.name === 'queue'));
    for (let i = 0; i < 4; i++) ids.push((await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix', force: true } })).json().id);
    const any = 'table#queue button[data-cancel]';
    await t.until('a Cancel of the queue to say why it is disabled', async () => {
      for (const id of ids) if (await reason(`table#queue tr[data-build="${id}"] button[data-cancel]`)) return true;
      return false;
    }, 10_000).catch(async () => check(t, false, `no Cancel in the queue tells a keyboard user why it is disabled ` +
      `(${await page.locator(any).count()} Cancel buttons)`));
    await t.shot('shell-read-reasons');
  } finally {
    await t.enterToken(t.daemon.token);
    await t.until('the admin token to be stored', async () => (await t.storedToken()) === t.daemon.token);
    for (const id of ids) await t.api('POST', `/builds/${id}/cancel`);
    for (const id of ids) await t.apiWaitTerminal(id, t.BUILD_TIMEOUT_MS).catch(() => {});
    await t.api('DELETE', `/tokens/${read.id}`);
  }
}

function check(t, cond, msg) { return t.check(cond, msg); }

export const flows = [
  ['whoami', flowWhoami],
  ['tokens', flowTokens],
  ['titles-nav', flowTitlesNav],
  ['scroll-back', flowScrollBack],
  ['focus', flowFocus],
  ['palette', flowPalette],
  ['phone', flowPhone],
  ['daemon-down', flowDaemonDown],
  ['scope-reasons', flowScopeReasons],
  ['axe', flowAxe],
];
