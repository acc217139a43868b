// Browser tests of the lists (web/builds.js, web/projectlist.js,
// web/events.js): pages with totals, filters in the URL (reload, Back),
// reused and reproduced builds marked, rows updated in place (a focused link
// and a text selection survive a live update), the queue's Cancel (and its
// reason when the token may not write), and no polling while GET /events
// is open.

const rowIds = (t, table) => t.page.$$eval(`table#${table} tbody tr[data-build]`,
  (trs) => trs.map((tr) => Number(tr.dataset.build)));

async function apiIds(t, path) {
  const r = await t.apiOk('GET', path, 200);
  return { ids: r.json().map((b) => b.id), total: Number(r.headers.get('x-total-count')), builds: r.json() };
}

async function goto(t, hash) {
  await t.page.goto(`${t.daemon.origin}/${hash}`);
}

// Waits until table#TABLE shows exactly `ids`, in that order.
async function showsIds(t, table, ids, what, timeout) {
  try {
    await t.until(`table#${table} to show ${what}`, async () => JSON.stringify(await rowIds(t, table)) === JSON.stringify(ids), timeout);
    return true;
  } catch {
    t.check(false, `table#${table} shows ${JSON.stringify(await rowIds(t, table))}, not ${what} ${JSON.stringify(ids)}`);
    return false;
  }
}

// Enough builds of hello to need pages: non-forced builds of a built
// project reuse its image (fast), and one forced build that runs its
// actions again (reproduces the first build, or differs from it).
async function flowPagesAndBadges(t) {
  const made = [];
  // a build to reproduce (the suite may run alone: MGD_TEST_FLOWS)
  if (!(await t.apiOk('GET', '/projects/hello/builds?status=succeeded&target=unix&per_page=1', 200)).json().length) {
    const first = (await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix' } })).json();
    await t.apiWaitTerminal(first.id, t.BUILD_TIMEOUT_MS);
  }
  // a build of hello's inputs that ran (the one a plain build reuses): the
  // forced build's end changes its Build cell (reproduced_by or
  // differs_from); its focused #id link keeps the focus through that redraw
  const plain = (await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix' } })).json();
  const plainDone = await t.apiWaitTerminal(plain.id, 60_000);
  const ranBefore = { id: plainDone.reused_from || plain.id };
  await goto(t, `#/projects/hello?q=${encodeURIComponent('#' + ranBefore.id)}`);
  const ranLink = `table#builds tr[data-build="${ranBefore.id}"] td.build-id a[href="#/builds/${ranBefore.id}"]`;
  await t.waitVisible(ranLink);
  await t.page.focus(ranLink);
  const forced = (await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix', force: true } })).json();
  const forcedDone = await t.apiWaitTerminal(forced.id, t.BUILD_TIMEOUT_MS);
  const forcedRecord = (await t.apiOk('GET', `/builds/${forced.id}`, 200)).json();
  if (t.check(forcedDone.status === 'succeeded' && (forcedRecord.reproduces.includes(ranBefore.id) ||
    forcedRecord.differs_from.includes(ranBefore.id)), `forced build ${forced.id} neither reproduces nor differs from build ${ranBefore.id}`)) {
    const cell = `table#builds tr[data-build="${ranBefore.id}"] td.build-id`;
    try {
      await t.until(`${cell} to name build ${forced.id}`, async () =>
        ((await t.page.locator(`${cell} .badge`).evaluateAll((bs) => bs.map((b) => b.title).join(' '))) ?? '').includes(`#${forced.id}`), 15_000);
    } catch {
      t.check(false, `${cell}'s badges do not name forced build ${forced.id}`);
    }
    const active = await t.page.evaluate(() => document.activeElement.outerHTML.slice(0, 100));
    t.check(await t.page.evaluate((sel) => document.activeElement === document.querySelector(sel), ranLink),
      `the focused link to build ${ranBefore.id} lost the focus to ${t.short(active)} when its badge changed`);
  }
  for (let i = 0; i < 6; i++) {
    made.push((await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix' } })).json().id);
  }
  for (const id of made) await t.apiWaitTerminal(id, 60_000);

  // page 1 of 5 per page: the API's page, its total and the pager
  // keep=me: a parameter of another part of the page, which the list keeps
  await goto(t, '#/projects/hello?per_page=5&keep=me');
  const p1 = await apiIds(t, '/projects/hello/builds?per_page=5&page=1');
  t.check(p1.total > 5, `hello has ${p1.total} builds, the test wants more than 5`);
  await showsIds(t, 'builds', p1.ids, 'the API\'s page 1');
  const summary = ((await t.text('#builds-summary')) ?? '').trim();
  t.check(summary === `builds 1–5 of ${p1.total}`, `#builds-summary says ${t.short(summary)}, not "builds 1–5 of ${p1.total}"`);
  const pages = Math.ceil(p1.total / 5);
  t.check(await t.page.locator(`#builds-pager a[data-rel=""][data-page="${pages}"]`).count() === 1, `#builds-pager has no link to the last page ${pages}`);
  t.check(await t.page.locator('#builds-pager [aria-current="page"]').textContent() === '1', '#builds-pager does not mark page 1 as current');
  t.check(await t.page.locator('#builds-per-page').inputValue() === '5', '#builds-per-page does not show 5');

  // reused builds: a badge naming the build they reused, a muted row
  const reused = p1.builds.find((b) => b.reused_from);
  if (t.check(reused, 'no reused build on page 1 although non-forced builds were made')) {
    const badge = `table#builds tr[data-build="${reused.id}"] a.badge-reused`;
    t.check(((await t.text(badge)) ?? '').trim() === `reused #${reused.reused_from}`,
      `${badge} says ${t.short(await t.text(badge))}, not "reused #${reused.reused_from}"`);
    t.check(await t.page.locator(`table#builds tr[data-build="${reused.id}"].reused`).count() === 1, `the row of reused build ${reused.id} is not marked .reused`);
  }
  const ran = p1.builds.find((b) => b.id === forced.id);
  if (ran) t.check(await t.page.locator(`table#builds tr[data-build="${ran.id}"] .badge-reused`).count() === 0, `forced build ${ran.id} has a reused badge`);

  // next page: in place, in the URL
  await t.page.click('#builds-pager a[rel="next"]');
  await t.until('page=2 in the URL', async () => /[?&]page=2\b/.test(t.hashOf()));
  t.check(/[?&]keep=me\b/.test(t.hashOf()), `the list dropped the page's other parameter (keep=me): ${t.hashOf()}`);
  const p2 = await apiIds(t, '/projects/hello/builds?per_page=5&page=2');
  await showsIds(t, 'builds', p2.ids, 'the API\'s page 2');
  t.check(((await t.text('#builds-summary')) ?? '').trim() === `builds 6–${5 + p2.ids.length} of ${p2.total}`,
    `#builds-summary on page 2 says ${t.short(await t.text('#builds-summary'))}`);

  // the reproducibility badges of the first build of hello, wherever it is
  const all = (await t.apiOk('GET', '/projects/hello/builds?per_page=100', 200)).json();
  const judged = all.find((b) => (b.reproduced_by || []).length || (b.differs_from || []).length);
  if (t.check(judged, `the forced build ${forced.id} made no build "reproduced" or "differs"`)) {
    const page = Math.floor(all.findIndex((b) => b.id === judged.id) / 5) + 1;
    await goto(t, `#/projects/hello?per_page=5&page=${page}`);
    await t.waitVisible(`table#builds tr[data-build="${judged.id}"]`);
    const sel = `table#builds tr[data-build="${judged.id}"]`;
    t.check(await t.page.locator(`${sel} .badge-reproduced`).count() === ((judged.reproduced_by || []).length ? 1 : 0),
      `${sel}: the "reproduced" badge does not match reproduced_by ${JSON.stringify(judged.reproduced_by)}`);
    t.check(await t.page.locator(`${sel} .badge-differs`).count() === ((judged.differs_from || []).length ? 1 : 0),
      `${sel}: the "differs" badge does not match differs_from ${JSON.stringify(judged.differs_from)}`);
  }
  // the forced build reproduces the earlier builds: a "reproduces #N" badge, a link to the newest of them
  if (forcedRecord.reproduces.length) {
    const rs = forcedRecord.reproduces;
    const page = Math.floor(all.findIndex((b) => b.id === forced.id) / 5) + 1;
    await goto(t, `#/projects/hello?per_page=5&page=${page}`);
    const badge = `table#builds tr[data-build="${forced.id}"] a.badge-reproduces`;
    await t.waitVisible(`table#builds tr[data-build="${forced.id}"]`);
    const want = `reproduces #${rs[0]}` + (rs.length > 1 ? ` +${rs.length - 1}` : '');
    t.check(((await t.text(badge)) ?? '').trim() === want, `${badge} says ${t.short(await t.text(badge))}, not "${want}"`);
    t.check(await t.page.locator(badge).getAttribute('href', { timeout: 1000 }).catch(() => null) === `#/builds/${rs[0]}`,
      `${badge} does not link to build ${rs[0]}`);
    const other = (await t.apiOk('GET', `/builds/${rs[0]}`, 200)).json();
    t.check(other.reproduced_by.includes(forced.id), `build ${rs[0]} does not list ${forced.id} in reproduced_by`);
  } else {
    t.check(forcedRecord.differs_from.length > 0, `forced build ${forced.id} reproduces nothing and differs from nothing`);
    t.note(`forced build ${forced.id} made another image: the "reproduces" badge is not judged`);
  }
  await t.shot('lists-pages');

  // filters in the URL: reload keeps them, Back undoes them
  await goto(t, '#/builds?per_page=5&page=2');
  const all2 = await apiIds(t, '/builds?per_page=5&page=2');
  await showsIds(t, 'builds', all2.ids, 'GET /builds page 2');
  await t.page.selectOption('#filter-status', 'failed');
  await t.until('status=failed in the URL', async () => /[?&]status=failed\b/.test(t.hashOf()));
  t.check(!/[?&]page=/.test(t.hashOf()), `a new filter kept the page: ${t.hashOf()}`);
  const failed = await apiIds(t, '/builds?status=failed&per_page=5');
  await showsIds(t, 'builds', failed.ids, 'the failed builds');
  await t.page.reload();
  await showsIds(t, 'builds', failed.ids, 'the failed builds after a reload');
  t.check(await t.page.locator('#filter-status').inputValue() === 'failed', 'select#filter-status lost "failed" on reload');
  await t.page.goBack();
  await t.until('the URL before the filter', async () => !/status=/.test(t.hashOf()) && /page=2/.test(t.hashOf()));
  await showsIds(t, 'builds', all2.ids, 'page 2 again after Back');
  t.check(await t.page.locator('#filter-status').inputValue() === '', 'select#filter-status still says a status after Back');
  await t.shot('lists-all-builds');
  // axe-core on the list with its filters and pager (t.axe comes with the shell's harness)
  if (typeof t.axe === 'function') await t.axe('all builds, filtered');

  // reused only, then a search: the daemon's filtered lists, in the URL
  await goto(t, '#/builds?per_page=5');
  await t.waitVisible('table#builds tr[data-build]');
  await t.page.selectOption('#filter-reused', 'true');
  await t.until('reused=true in the URL', async () => /[?&]reused=true\b/.test(t.hashOf()));
  const reusedOnly = await apiIds(t, '/builds?reused=true&per_page=5');
  t.check(reusedOnly.ids.length > 0, 'GET /builds?reused=true is empty although reused builds were made');
  if (await showsIds(t, 'builds', reusedOnly.ids, 'the reused builds')) {
    t.check(await t.page.locator('table#builds tr[data-build]:not(.reused)').count() === 0, 'reused=true shows a row not marked .reused');
  }
  await t.page.selectOption('#filter-reused', '');
  const q = `#${forced.id}`;
  await t.page.fill('#filter-q', q);
  await t.page.press('#filter-q', 'Enter');
  await t.until(`q=${q} in the URL`, async () => new URLSearchParams(t.hashOf().split('?')[1] || '').get('q') === q);
  const found = await apiIds(t, `/builds?q=${encodeURIComponent(q)}&per_page=5`);
  t.check(found.ids.includes(forced.id), `GET /builds?q=${q}: ${JSON.stringify(found.ids)}`);
  await showsIds(t, 'builds', found.ids, `the builds found by "${q}"`);
  await t.page.reload();
  await showsIds(t, 'builds', found.ids, `the builds found by "${q}" after a reload`);
  t.check(await t.page.locator('#filter-q').inputValue() === q, `input#filter-q lost ${q} on reload`);

  // a project's Config column: the builds of that config version
  await goto(t, '#/projects/hello?per_page=5');
  const cfg = 'table#builds tr[data-build] td.config-version a';
  await t.waitVisible(cfg);
  await t.page.locator(cfg).first().click();
  await t.until('config_version=1 in the URL', async () => /[?&]config_version=1\b/.test(t.hashOf()));
  const v1 = await apiIds(t, '/projects/hello/builds?config_version=1&per_page=5');
  await showsIds(t, 'builds', v1.ids, 'the builds of config version 1');
  t.check(await t.page.locator('#filter-config-version').inputValue() === '1', 'input#filter-config-version does not say 1');
}

// A live update (a new build at the top, its status changing) leaves the
// focused link focused and the selected text selected.
async function flowFocusSurvives(t) {
  await goto(t, '#/projects/hello?per_page=10');
  await t.waitVisible('table#builds tr[data-build]');
  const before = await rowIds(t, 'builds');
  t.check(before.length >= 3, `table#builds shows ${before.length} builds`);
  await t.page.evaluate(() => {
    const rows = document.querySelectorAll('table#builds tbody tr[data-build]');
    const link = rows[1].querySelector('a');
    link.focus();
    window.__focused = link;
    const td = rows[2].querySelector('td.target');
    const range = document.createRange();
    range.selectNodeContents(td);
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    window.__selected = sel.toString();
  });
  const b = (await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix' } })).json();
  await t.apiWaitTerminal(b.id, 60_000);
  const row = `table#builds tr[data-build="${b.id}"]`;
  try {
    await t.until(`${row} to say succeeded`, async () => ((await t.text(`${row} span.status`)) ?? '').trim() === 'succeeded', 30_000);
  } catch {
    t.check(false, `${row} did not show up as succeeded (status: ${t.short(await t.text(`${row} span.status`))})`);
  }
  const ids = await rowIds(t, 'builds');
  const want = [b.id, ...before].slice(0, 10);
  t.check(JSON.stringify(ids) === JSON.stringify(want), `after build ${b.id} table#builds shows ${JSON.stringify(ids)}, not ${JSON.stringify(want)}`);
  const total = Number((await t.apiOk('GET', '/projects/hello/builds', 200)).headers.get('x-total-count'));
  t.check(((await t.text('#builds-summary')) ?? '').includes(`of ${total}`), `#builds-summary ${t.short(await t.text('#builds-summary'))} does not say "of ${total}"`);
  const kept = await t.page.evaluate(() => ({
    focus: document.activeElement === window.__focused && window.__focused.isConnected,
    active: document.activeElement ? document.activeElement.outerHTML.slice(0, 80) : null,
    selection: getSelection().toString(),
    want: window.__selected,
    anchorConnected: !!getSelection().anchorNode && getSelection().anchorNode.isConnected,
  }));
  t.check(kept.focus, `the focused link lost the focus to ${t.short(kept.active)} after a live update`);
  t.check(kept.selection === kept.want && kept.want.length > 0 && kept.anchorConnected,
    `the selection ${t.short(kept.want)} became ${t.short(kept.selection)} after a live update`);
}

// The projects page too: a new build of hello updates its latest-build cell
// in place.
async function flowProjectsInPlace(t) {
  await goto(t, '#/projects');
  await t.waitVisible('table#projects tr[data-project="hello"] a.project-link');
  await t.page.evaluate(() => {
    const link = document.querySelector('table#projects tr[data-project="hello"] a.project-link');
    link.focus();
    window.__focused = link;
    const td = document.querySelector('table#projects tr[data-project="broken"] td:nth-child(2)');
    const range = document.createRange();
    range.selectNodeContents(td);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    window.__selected = getSelection().toString();
  });
  const b = (await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix' } })).json();
  await t.apiWaitTerminal(b.id, 60_000);
  const cell = 'table#projects tr[data-project="hello"] td.latest[data-target="unix"]';
  try {
    await t.until(`${cell} to show build ${b.id}`, async () => ((await t.text(cell)) ?? '').includes(`#${b.id}`), 30_000);
  } catch {
    t.check(false, `${cell} says ${t.short(await t.text(cell))}, not build #${b.id}`);
  }
  const kept = await t.page.evaluate(() => ({
    focus: document.activeElement === window.__focused && window.__focused.isConnected,
    selection: getSelection().toString(),
    want: window.__selected,
  }));
  t.check(kept.focus, 'the focused project link lost the focus when the projects page updated');
  t.check(kept.want.length > 0 && kept.selection === kept.want, `the selection ${t.short(kept.want)} became ${t.short(kept.selection)} when the projects page updated`);
  const total = Number((await t.apiOk('GET', '/projects', 200)).headers.get('x-total-count'));
  t.check(((await t.text('#projects-summary')) ?? '').trim() === `projects 1–${total} of ${total}`,
    `#projects-summary says ${t.short(await t.text('#projects-summary'))}, not "projects 1–${total} of ${total}"`);
}

// The queue: positions, Cancel (disabled with the reason for a read token).
async function flowQueueCancel(t) {
  // two workers: six forced builds leave some queued for a while
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push((await t.apiOk('POST', '/projects/hello/build', 202, { body: { target: 'unix', force: true } })).json().id);
  const status = async (id) => (await t.apiOk('GET', `/builds/${id}`, 200)).json().status;
  try {
    await goto(t, '#/queue');
    // a queued build's focused Cancel keeps the focus when the build starts
    const queuedNow = [];
    for (const id of ids) if ((await status(id)) === 'queued') queuedNow.push(id);
    if (t.check(queuedNow.length > 0, `none of builds ${JSON.stringify(ids)} is queued any more: the focus of Cancel is not judged`)) {
      const qid = queuedNow[0];
      const qbtn = `table#queue tr[data-build="${qid}"] button[data-cancel="${qid}"]`;
      await t.waitVisible(qbtn);
      await t.page.focus(qbtn);
      const rowStatus = () => t.page.evaluate((id) => document.querySelector(`table#queue tr[data-build="${id}"]`)?.dataset.status ?? null, qid);
      try {
        await t.until(`build ${qid} to start`, async () => (await rowStatus()) !== 'queued', 60_000);
        const st = await rowStatus();
        t.check(st === 'running', `build ${qid} went from queued to ${st}, not running`);
        const active = await t.page.evaluate(() => document.activeElement.outerHTML.slice(0, 100));
        t.check(await t.page.evaluate((id) => document.activeElement.dataset?.cancel === String(id) && document.activeElement.isConnected, qid),
          `the focused Cancel of build ${qid} lost the focus to ${t.short(active)} when the build started`);
        // its elapsed time, in whole seconds (started_at has no finer ones)
        const el = await t.page.evaluate((id) => {
          const tr = document.querySelector(`table#queue tr[data-build="${id}"]`);
          return tr && tr.dataset.status === 'running' ? tr.querySelector('td.duration').textContent.trim() : null;
        }, qid);
        if (el !== null) t.check(/^(\d+ s|\d+ min \d\d s|\d+ h \d\d min) so far$/.test(el), `running build ${qid}'s elapsed time says ${t.short(el)}`);
      } catch (e) {
        t.check(false, `build ${qid} did not start in table#queue: ${e.message.split('\n')[0]}`);
      }
    }
    // a read token: Cancel disabled, saying why
    const read = (await t.apiOk('POST', '/tokens', 201, { body: { scope: 'read', name: 'lists-read' } })).json();
    await t.enterToken(read.token);
    await goto(t, '#/queue');
    const pending = [];
    for (const id of ids) if (['queued', 'running'].includes(await status(id))) pending.push(id);
    if (pending.length) {
      const btn = `table#queue tr[data-build="${pending[pending.length - 1]}"] button[data-cancel]`;
      try {
        await t.waitVisible(btn);
        await t.until(`${btn} to be disabled for a read token`, async () => t.page.locator(btn).isDisabled({ timeout: 1000 }), 5000);
        const title = await t.page.locator(btn).getAttribute('title');
        t.check(/write/.test(title || ''), `${btn} is disabled without saying why: title ${t.short(title)}`);
      } catch (e) {
        t.check(false, `${btn} is not disabled for a read token: ${e.message.split('\n')[0]}`);
      }
    } else {
      t.note('every build had finished before the read token could be tried on the queue');
    }
    await t.shot('lists-queue-read-token');
    await t.enterToken(t.daemon.token);
    await t.until('the admin token to be stored', async () => (await t.storedToken()) === t.daemon.token);

    await goto(t, '#/queue');
    const last = ids[ids.length - 1];
    if ((await status(last)) === 'queued') {
      const pos = `table#queue tr[data-build="${last}"] .progress`;
      try {
        await t.until(`${pos} to give a place in the queue`, async () => /\d+(st|nd|rd|th) in queue/.test((await t.text(pos)) ?? ''), 5000);
      } catch {
        t.check((await status(last)) !== 'queued', `${pos} says ${t.short(await t.text(pos))}`);
      }
    } else {
      t.note(`build ${last} was not queued any more: its cancel is tried while it runs`);
    }
    // a running build: its elapsed time in whole seconds and what it does now (GET /builds/ID's progress)
    if ((await status(ids[0])) === 'running') {
      const row = `table#queue tr[data-build="${ids[0]}"]`;
      try {
        await t.until(`${row} to show its elapsed time`, async () => /^(\d+ s|\d+ min \d\d s|\d+ h \d\d min) so far$/.test(((await t.text(`${row} td.duration`)) ?? '').trim()), 5000);
      } catch {
        t.check((await status(ids[0])) !== 'running', `${row} td.duration says ${t.short(await t.text(`${row} td.duration`))}, no elapsed time`);
      }
      // the steps change fast: the page shows one the API names, or the build ended
      let seen = null;
      try {
        await t.until(`${row} to show a step the API names`, async () => {
          const api = (await t.apiOk('GET', `/builds/${ids[0]}`, 200)).json();
          if (api.status !== 'running') return 'ended';
          const shown = ((await t.text(`${row} .progress`)) ?? '');
          seen = { shown, steps: api.progress && api.progress.steps };
          return seen.steps && seen.steps.some((st) => shown.includes(st));
        }, 8000, 50);
      } catch {
        t.check(false, `${row} .progress says ${t.short(seen && seen.shown)} while the API says ${JSON.stringify(seen && seen.steps)}`);
      }
    }
    await t.shot('lists-queue');
    if (typeof t.axe === 'function') await t.axe('queue with builds');
    // the last (queued, most likely) and the first (running)
    for (const id of [last, ids[0]]) {
      const b = `table#queue tr[data-build="${id}"] button[data-cancel]`;
      const st = await status(id);
      if (!['queued', 'running'].includes(st)) {
        t.note(`build ${id} was ${st} before it could be cancelled`);
        continue;
      }
      await t.waitVisible(b);
      await t.page.click(b);
      const done = await t.apiWaitTerminal(id, 30_000);
      t.check(done.status === 'cancelled', `build ${id} is ${done.status} after its Cancel button, not cancelled`);
      try {
        await t.until(`build ${id} to leave table#queue`, async () => !(await rowIds(t, 'queue')).includes(id));
      } catch {
        t.check(false, `cancelled build ${id} is still in table#queue`);
      }
    }

  } finally {
    await t.enterToken(t.daemon.token);
    await t.until('the admin token to be stored', async () => (await t.storedToken()) === t.daemon.token);
    for (const id of ids) await t.api('POST', `/builds/${id}/cancel`);
    for (const id of ids) await t.apiWaitTerminal(id, 30_000);
  }
}

// While GET /events is open the lists ask for nothing; when it cannot be
// opened they say so and poll every 10 s.
async function flowLiveNoPolling(t) {
  const seen = [];
  const onReq = (req) => {
    const u = new URL(req.url());
    if (/^\/(builds|projects)(\/[^/]+\/builds)?$/.test(u.pathname)) seen.push(u.pathname + u.search);
  };
  await goto(t, '#/builds');
  await t.until('#builds-live to say live', async () => ((await t.text('#builds-live')) ?? '').trim() === 'live', 20_000);
  await t.waitVisible('table#builds');
  t.page.on('request', onReq);
  await t.sleep(12_000);
  t.page.off('request', onReq);
  t.check(seen.length === 0, `the builds list asked ${seen.length} times while the event stream was open: ${seen.slice(0, 5).join(', ')}`);

  // no stream: a note, and polling
  await t.page.route((u) => u.pathname === '/events', (route) => route.abort('connectionrefused'));
  try {
    await t.page.reload();
    await t.until('#builds-live to say it is not live', async () => /unavailable/.test((await t.text('#builds-live')) ?? ''));
    seen.length = 0;
    t.page.on('request', onReq);
    await t.sleep(11_000);
    t.page.off('request', onReq);
    t.check(seen.length >= 1, `the builds list did not poll while the event stream was down (${seen.length} requests in 11 s)`);
  } finally {
    await t.page.unrouteAll({ behavior: 'wait' });
  }
  await goto(t, '#/projects');
  await t.page.reload();
}

export const flows = [
  ['pages-and-badges', flowPagesAndBadges],
  ['focus-survives', flowFocusSurvives],
  ['projects-in-place', flowProjectsInPlace],
  ['queue-cancel', flowQueueCancel],
  ['live-no-polling', flowLiveNoPolling],
];
