#!/usr/bin/env node
// The trace viewer in a real browser: `tornado-walk view hello` writes the
// page, Debian's /usr/bin/chromium (headless, through puppeteer-core) opens
// it from file:// and is driven with the keyboard as a student would. Checks
// that the step counter, the highlighted arrow, the event panel and the
// source panel follow each key, that the URL names the step and that
// #step=N opens there, that the views switch, that play moves on, and that
// the page loads nothing and logs no error. Screenshots (desktop, projector,
// phone) go into the artifact directory. With --serve-cmd, also `serve --ui`:
// the live page of a running server's flight recorder, which must reload by
// itself with the request a client then sends.
//
//   node viewer_test.mjs --walk PATH/tornado-walk --artifacts DIR [--modules DIR]
//       [--serve-cmd "CMD with {port} and {admin}"]
//
// puppeteer-core comes from tests/browser/install.sh's folder
// ($TORNADO_BROWSER_HOME, default ~/.cache/tornado-cpp-browser), or --modules DIR.
// Exit status: 0 when every check passed, 1 when one failed, 2 when the test
// could not run.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import {
  accepts, CHROMIUM, check, checkEqual, defaultModulesDir, freePort, launch, loadPuppeteer, results,
} from './common.mjs';

function usage(message) {
  console.error(`viewer_test: ${message}`);
  console.error('usage: viewer_test.mjs --walk PATH --artifacts DIR [--modules DIR]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage(`${key} needs a value`);
    if (key === '--walk') opts.walk = value;
    else if (key === '--artifacts') opts.artifacts = value;
    else if (key === '--modules') opts.modules = value;
    else if (key === '--serve-cmd') opts.serveCmd = value;
    else usage(`unknown option ${key}`);
  }
  if (!opts.walk) usage('--walk PATH is required');
  if (!opts.artifacts) usage('--artifacts DIR is required');
  opts.modules ??= defaultModulesDir();
  return opts;
}


function get(port, pathname) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

// serve --ui: the page of an idle server, then of one that got a request.
async function liveChecks(browser, opts, problems) {
  const [port, admin] = [await freePort(), await freePort()];
  const command = opts.serveCmd.replaceAll('{port}', String(port)).replaceAll('{admin}', String(admin));
  const log = fs.openSync(path.join(opts.artifacts, 'serve-ui.log'), 'w');
  const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', log, log] });
  try {
    const deadline = Date.now() + 20000;
    while (!(await accepts(port) && await accepts(admin))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve --ui did not start: ${command}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = `http://127.0.0.1:${admin}/`;
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`live console error: ${msg.text()}`); });
    page.on('pageerror', (err) => problems.push(`live page error: ${err.message}`));
    await page.goto(url, { waitUntil: 'load' });
    checkEqual('serve_ui.idle_server_has_no_steps', (await state(page)).counter, 'step 0 / 0');
    const answer = await get(port, '/');
    checkEqual('serve_ui.the_app_answers', [answer.status, answer.body], [200, 'Hello, world']);
    // The page polls the server and reloads itself once the request is recorded.
    await page.waitForFunction(() => /^step 1 \/ [1-9]/.test(document.getElementById('counter').textContent), { timeout: 20000 });
    const s = await state(page);
    check('serve_ui.reloaded_with_the_request', s.messages > 10, `${s.counter}`);
    const steps = await page.evaluate(() => {
      const data = JSON.parse(document.getElementById('trace-data').textContent);
      return data.events.map((e) => e.step);
    });
    check('serve_ui.shows_the_chain_of_the_request', steps.includes('HTTP1Connection._read_message') &&
      steps.includes('BaseIOStream._handle_write'), steps.slice(0, 8).join(', '));
    await page.keyboard.press('ArrowRight');
    checkEqual('serve_ui.steps_with_keys', (await state(page)).counter, `step 2 / ${s.messages}`);
    await page.screenshot({ path: path.join(opts.artifacts, 'viewer-serve-ui.png') });
    checkEqual('serve_ui.other_paths_are_404', (await get(admin, '/nope')).status, 404);
    await page.close();
  } finally {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    await new Promise((resolve) => { if (child.exitCode !== null) resolve(); else child.once('exit', resolve); });
  }
}

// Errors, and any request for something that is not the page itself: the
// page must be self-contained.
async function watchPage(page, pageUrl, problems) {
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url.split('#')[0] === pageUrl || url.startsWith('data:')) {
      req.continue();
    } else {
      problems.push(`the page asked for ${url}`);
      req.abort();
    }
  });
}

// What the page shows now, read from the document, and what the page's own
// data says the current step is (to compare the two).
function state(page) {
  return page.evaluate(() => {
    const current = document.querySelectorAll('#diagram g.msg.current');
    const all = document.querySelectorAll('#diagram g.msg');
    const future = document.querySelectorAll('#diagram g.msg.future');
    const here = document.querySelector('#source span.here');
    return {
      counter: document.getElementById('counter').textContent,
      messages: all.length,
      currentIds: Array.from(current).map((g) => g.id),
      currentSeq: current.length ? Number(current[0].dataset.seq) : null,
      future: future.length,
      firstFuture: future.length ? future[0].id : null,
      title: document.getElementById('event-title').textContent,
      event: document.getElementById('event').textContent,
      sourceTitle: document.getElementById('source-title').textContent,
      hereLine: here ? here.textContent : null,
      tornado: document.getElementById('tornado').textContent,
      explain: document.getElementById('explain').textContent,
      hash: location.hash,
      view: document.getElementById('view').value,
    };
  });
}

// The event the trace data gives for a seq (independent of what the page drew).
function eventOfSeq(trace, seq) {
  return trace.find((e) => e.seq === seq);
}

async function expectStep(page, trace, name, n, total) {
  const s = await state(page);
  checkEqual(`${name}.counter`, s.counter, `step ${n} / ${total}`);
  checkEqual(`${name}.highlighted_arrow`, s.currentIds, [`m${n - 1}`]);
  checkEqual(`${name}.later_arrows_hidden`, [s.future, s.firstFuture], [total - n, n < total ? `m${n}` : null]);
  const e = eventOfSeq(trace, s.currentSeq);
  if (!check(`${name}.arrow_is_a_trace_event`, !!e, `no event with seq ${s.currentSeq} in the trace`)) return s;
  checkEqual(`${name}.event_panel_names_the_step`, s.title, e.step);
  check(`${name}.event_panel_gives_the_seq`, s.event.includes(`#${e.seq}`), `"${s.event}" lacks #${e.seq}`);
  checkEqual(`${name}.source_panel_names_the_location`, s.sourceTitle, `C++: ${e.src}`);
  const line = Number(e.src.split(':').pop());
  check(`${name}.source_panel_marks_the_line`, s.hereLine !== null && Number(s.hereLine.trim().split(/\s+/)[0]) === line,
    `marked line "${s.hereLine}", want ${line}`);
  return s;
}

async function main() {
  const started = Date.now();
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.artifacts, { recursive: true });
  const puppeteer = loadPuppeteer(opts.modules, 'viewer_test');
  if (!fs.existsSync(CHROMIUM)) { console.error(`viewer_test: ${CHROMIUM} is missing`); process.exit(2); }

  // The page, and the same trace as JSON Lines to check the page against.
  const html = path.resolve(opts.artifacts, 'hello.html');
  const jsonl = path.resolve(opts.artifacts, 'hello.jsonl');
  try {
    execFileSync(opts.walk, ['view', 'hello', '-o', html], { stdio: ['ignore', 'inherit', 'inherit'] });
    execFileSync(opts.walk, ['run', 'hello', '--format', 'jsonl', '-o', jsonl], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    console.error(`viewer_test: tornado-walk failed: ${err.message}`);
    process.exit(2);
  }
  const trace = fs.readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const pageUrl = pathToFileURL(html).href;

  let browser;
  try {
    browser = await launch(puppeteer);
    console.log(`browser: ${await browser.version()}`);
    const problems = [];
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    await watchPage(page, pageUrl, problems);
    await page.goto(pageUrl, { waitUntil: 'load' });

    const first = await state(page);
    const total = first.messages;
    check('viewer.draws_the_chain', total > 20 && first.view === 'chain', `${total} messages in view ${first.view}`);
    await expectStep(page, trace, 'viewer.opens_at_step_1', 1, total);
    // The hello chain starts with the client, then the server's accept.
    const seqs = await page.$$eval('#diagram g.msg', (gs) => gs.map((g) => Number(g.dataset.seq)));
    const steps = seqs.map((q) => eventOfSeq(trace, q)?.step);
    const accept = steps.indexOf('netutil.accept_handler');
    const write = steps.indexOf('BaseIOStream._handle_write');
    check('viewer.chain_goes_from_accept_to_handle_write', accept >= 0 && write > accept,
      `accept_handler at ${accept}, _handle_write at ${write}`);

    for (let k = 0; k < 3; k++) await page.keyboard.press('ArrowRight');
    await expectStep(page, trace, 'viewer.right_arrow_three_times', 4, total);
    await page.keyboard.press('ArrowLeft');
    const back = await expectStep(page, trace, 'viewer.left_arrow_once', 3, total);
    checkEqual('viewer.url_names_the_step', back.hash, '#step=3');
    await page.keyboard.press('n');
    await expectStep(page, trace, 'viewer.n_key', 4, total);
    await page.screenshot({ path: path.join(opts.artifacts, 'viewer-desktop.png') });

    // s: the next suspend or resume.
    await page.keyboard.press('s');
    const sr = await state(page);
    const srEvent = eventOfSeq(trace, sr.currentSeq);
    check('viewer.s_goes_to_a_suspend_or_resume', srEvent && (srEvent.ph === 'S' || srEvent.ph === 'R'),
      `step ${sr.counter} is ${srEvent && srEvent.ph}`);
    await page.keyboard.press('End');
    await expectStep(page, trace, 'viewer.end_key', total, total);
    await page.keyboard.press('Home');
    await expectStep(page, trace, 'viewer.home_key', 1, total);

    // Play moves on by itself (no timing asserted: it waits for a change).
    await page.select('#speed', '10');
    await page.keyboard.press(' ');
    await page.waitForFunction(() => /^step ([3-9]|\d\d+) /.test(document.getElementById('counter').textContent), { timeout: 15000 });
    await page.keyboard.press(' ');
    const paused = await state(page);
    await new Promise((r) => setTimeout(r, 300));
    checkEqual('viewer.pause_stops_play', (await state(page)).counter, paused.counter);

    // The full view has more steps, and return arrows.
    await page.select('#view', 'full');
    const full = await state(page);
    check('viewer.full_view_has_more_steps', full.messages > total && full.view === 'full', `${full.messages} vs ${total}`);
    check('viewer.full_view_in_the_url', full.hash.includes('view=full'), full.hash);

    // A link to one moment: #step=N opens there, in a fresh page.
    const target = Math.min(10, total);
    const linked = await browser.newPage();
    await linked.setViewport({ width: 1920, height: 1080 });
    await watchPage(linked, pageUrl, problems);
    await linked.goto(`${pageUrl}#step=${target}`, { waitUntil: 'load' });
    await expectStep(linked, trace, 'viewer.opens_the_linked_step', target, total);
    await linked.screenshot({ path: path.join(opts.artifacts, 'viewer-projector.png') });
    // And a hash change moves a page already open.
    await linked.evaluate(() => { location.hash = '#step=2'; });
    await linked.waitForFunction(() => document.getElementById('counter').textContent.startsWith('step 2 '), { timeout: 5000 });
    await expectStep(linked, trace, 'viewer.follows_a_hash_change', 2, total);

    // A phone: the panel goes under the diagram, nothing overflows sideways.
    const phone = await browser.newPage();
    await phone.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await watchPage(phone, pageUrl, problems);
    await phone.goto(`${pageUrl}#step=${target}`, { waitUntil: 'load' });
    const layout = await phone.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
      diagramBottom: document.getElementById('diagram').getBoundingClientRect().bottom,
      panelTop: document.querySelector('aside').getBoundingClientRect().top,
    }));
    check('viewer.phone_page_fits_the_width', layout.scroll <= layout.width, `${layout.scroll} > ${layout.width}`);
    check('viewer.phone_panel_below_the_diagram', layout.panelTop >= layout.diagramBottom - 1, JSON.stringify(layout));
    await phone.screenshot({ path: path.join(opts.artifacts, 'viewer-phone.png'), fullPage: true });

    check('viewer.no_errors_and_nothing_fetched', problems.length === 0, problems.join('; '));
    if (opts.serveCmd) {
      const live = [];
      await liveChecks(browser, opts, live);
      check('serve_ui.no_console_errors', live.length === 0, live.join('; '));
    }
  } catch (err) {
    check('viewer.ran_to_the_end', false, err.stack ?? String(err));
  } finally {
    if (browser) await browser.close();
  }
  const failed = results.filter((r) => !r.ok).length;
  const shots = ['viewer-desktop.png', 'viewer-projector.png', 'viewer-phone.png', 'viewer-serve-ui.png']
    .map((f) => path.join(opts.artifacts, f)).filter((f) => fs.existsSync(f));
  console.log(`screenshots: ${shots.join(' ') || 'none'}`);
  console.log(`${results.length - failed} passed, ${failed} failed (${Date.now() - started} ms)`);
  process.exit(failed ? 1 : 0);
}

main();
