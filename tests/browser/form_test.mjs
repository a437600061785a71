#!/usr/bin/env node
// A real browser through the demo app's /form pages (../shared/demo-app.md):
// Debian's /usr/bin/chromium, headless, driven by puppeteer-core over the
// DevTools protocol. It checks that the stylesheet applies, that app.js runs,
// that the form's values come back escaped, that the form posts with its XSRF
// field and cookie, and that the answer page shows the title as literal text.
// A PNG screenshot of each page goes into the artifact directory.
//
//   node form_test.mjs --server-cmd "CMD with {port}" --artifacts DIR
//   node form_test.mjs --base-url http://127.0.0.1:8888 --artifacts DIR
//
// puppeteer-core is loaded from tests/browser/install.sh's folder
// ($TORNADO_BROWSER_HOME, default ~/.cache/tornado-cpp-browser), or --modules DIR.
// Exit status: 0 when every check passed, 1 when one failed, 2 when the test
// could not run (no puppeteer-core, no chromium, server did not start).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  accepts, CHROMIUM, check, checkEqual, defaultModulesDir, freePort, launch, loadPuppeteer, results,
} from './common.mjs';
const START_TIMEOUT_MS = 20000;

// The values sent through the pages: each holds <, & and " so escaping shows.
const NAME = 'Ada <b>&</b> "Lovelace"';
const ITEMS = ['a', 'b'];
const TITLE = 'Hi <script>window.injected = 1</script> & "bye"';
// Tornado's xhtml_escape of TITLE, as it must stand in the answer's HTML.
const TITLE_ESCAPED = 'Hi &lt;script&gt;window.injected = 1&lt;/script&gt; &amp; &quot;bye&quot;';
const NOTE_HTML = '<em>rendered by the demo app</em>';
// style.css sets .rule-7 { margin: 7px; padding: 0px; color: #84582a; }
const RULE_CLASS = 'rule-7';
const RULE_STYLE = { marginTop: '7px', paddingTop: '0px', color: 'rgb(132, 88, 42)' };
const STYLE_RULE_COUNT = 60;

function usage(message) {
  console.error(`form_test: ${message}`);
  console.error('usage: form_test.mjs (--server-cmd CMD | --base-url URL) --artifacts DIR [--modules DIR]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (value === undefined) usage(`${key} needs a value`);
    if (key === '--server-cmd') opts.serverCmd = value;
    else if (key === '--base-url') opts.baseUrl = value.replace(/\/$/, '');
    else if (key === '--artifacts') opts.artifacts = value;
    else if (key === '--modules') opts.modules = value;
    else usage(`unknown option ${key}`);
  }
  if (!opts.serverCmd === !opts.baseUrl) usage('give exactly one of --server-cmd and --base-url');
  if (!opts.artifacts) usage('--artifacts DIR is required');
  opts.modules ??= defaultModulesDir();
  return opts;
}

// --- the server under test ------------------------------------------------

// Starts CMD through /bin/sh in its own process group; resolves once the port accepts.
async function startServer(cmd, logPath) {
  const port = await freePort();
  const command = cmd.replaceAll('{port}', String(port));
  const log = fs.openSync(logPath, 'w');
  const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code, signal) => { exited = signal ?? code; });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (exited !== null) {
      const tail = fs.readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join('\n  ');
      throw new Error(`server exited (${exited}) before accepting: ${command}\n  ${tail}`);
    }
    if (Date.now() > deadline) { await stopServer(child); throw new Error(`server did not accept within ${START_TIMEOUT_MS} ms: ${command}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, baseUrl: `http://127.0.0.1:${port}`, command };
}

// SIGTERM to the server's process group, then waits for it (SIGKILL after 10 s).
async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
  const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
  await exited;
  // The shell may have left the server itself still shutting down: wait for the group.
  const groupAlive = () => { try { process.kill(-child.pid, 0); return true; } catch { return false; } };
  while (groupAlive()) await new Promise((r) => setTimeout(r, 20));
  clearTimeout(timer);
}

// --- checks ---------------------------------------------------------------

// What the browser reports as going wrong while the pages load.
function watchPage(page, problems) {
  // Chromium asks for /favicon.ico on its own; the demo app has none (404).
  const isFavicon = (url) => new URL(url).pathname === '/favicon.ico';
  page.on('console', (msg) => {
    const url = msg.location()?.url ?? '';
    if (msg.type() === 'error' && !(url && isFavicon(url))) problems.push(`console error: ${msg.text()} (${url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    if (!isFavicon(req.url())) problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400 && !isFavicon(res.url())) problems.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
  });
}

// Stylesheet, app.js and title facts of the page now shown.
function pageFacts(page, ruleClass) {
  return page.evaluate((cls) => {
    const probe = document.createElement('div');
    probe.className = cls;
    document.body.appendChild(probe);
    const style = getComputedStyle(probe);
    const facts = {
      title: document.title,
      dataJs: document.documentElement.dataset.js ?? null,
      probeStyle: { marginTop: style.marginTop, paddingTop: style.paddingTop, color: style.color },
      sheets: [...document.styleSheets].map((s) => ({ path: new URL(s.href).pathname, rules: s.cssRules.length })),
      scripts: [...document.scripts].map((s) => new URL(s.src).pathname),
    };
    probe.remove();
    return facts;
  }, ruleClass);
}

function checkAssets(label, facts) {
  checkEqual(`${label}.app_js_ran`, facts.dataJs, 'ran');
  checkEqual(`${label}.stylesheet_applies`, facts.probeStyle, RULE_STYLE);
  checkEqual(`${label}.stylesheet_loaded`, facts.sheets, [{ path: '/static/style.css', rules: STYLE_RULE_COUNT }]);
  checkEqual(`${label}.only_app_js_script`, facts.scripts, ['/static/app.js']);
}

async function formPage(page, baseUrl, artifacts) {
  const query = new URLSearchParams([['name', NAME], ...ITEMS.map((i) => ['item', i])]);
  const url = `${baseUrl}/form?${query}`;
  const response = await page.goto(url, { waitUntil: 'load' });
  check('form.status_200', response.status() === 200, `GET ${url} answered ${response.status()}`);
  await page.screenshot({ path: path.join(artifacts, 'form.png'), fullPage: true });
  if (response.status() !== 200) return null;
  const facts = await pageFacts(page, RULE_CLASS);
  checkEqual('form.title', facts.title, `Hello, ${NAME}`);
  checkAssets('form', facts);
  const body = await page.evaluate(() => ({
    h1: document.querySelector('h1')?.textContent ?? null,
    h1Children: document.querySelector('h1')?.children.length ?? null,
    items: [...document.querySelectorAll('ul > li')].map((li) => li.textContent),
    titleValue: document.querySelector('form input[name=title]')?.value ?? null,
    xsrf: document.querySelector('form input[type=hidden][name=_xsrf]')?.value ?? null,
    action: document.querySelector('form')?.getAttribute('action') ?? null,
    method: document.querySelector('form')?.getAttribute('method') ?? null,
  }));
  checkEqual('form.heading_is_literal_text', [body.h1, body.h1Children], [`Hello, ${NAME}`, 0]);
  checkEqual('form.list_items', body.items, ITEMS);
  checkEqual('form.title_field_value', body.titleValue, NAME);
  checkEqual('form.action', [body.method, body.action], ['post', '/form']);
  check('form.xsrf_field', typeof body.xsrf === 'string' && body.xsrf.length > 0, `hidden _xsrf field: ${body.xsrf}`);
  const cookies = await page.cookies();
  const xsrfCookie = cookies.find((c) => c.name === '_xsrf');
  check('form.xsrf_cookie', xsrfCookie !== undefined, `cookies: ${JSON.stringify(cookies.map((c) => c.name))}`);
  return body;
}

async function submitForm(page, artifacts, xsrf) {
  const posted = [];
  page.on('request', (req) => { if (req.method() === 'POST') posted.push(req.postData() ?? ''); });
  await page.$eval('form input[name=title]', (el) => { el.value = ''; });
  await page.type('form input[name=title]', TITLE);
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('form input[type=submit]'),
  ]);
  await page.screenshot({ path: path.join(artifacts, 'done.png'), fullPage: true });
  const fields = posted.length === 1 ? new URLSearchParams(posted[0]) : null;
  checkEqual('submit.posted_fields', fields && [fields.get('_xsrf'), fields.get('title')], [xsrf, TITLE]);
  check('submit.status_200', response.status() === 200,
    `POST /form answered ${response.status()} (403 means the _xsrf field or cookie did not match)`);
  if (response.status() !== 200) return;
  const html = await response.text();
  check('done.html_escapes_title', html.includes(`<h1 id="received">Received: ${TITLE_ESCAPED}</h1>`),
    `the answer's HTML has no <h1 id="received">Received: ${TITLE_ESCAPED}</h1>`);
  const facts = await pageFacts(page, RULE_CLASS);
  checkEqual('done.title', facts.title, 'Received');
  checkAssets('done', facts);
  const body = await page.evaluate(() => ({
    received: document.querySelector('#received')?.textContent ?? null,
    receivedChildren: document.querySelector('#received')?.children.length ?? null,
    injected: window.injected ?? null,
    footerHtml: document.querySelector('p.footer')?.innerHTML ?? null,
    footerEm: document.querySelector('p.footer > em')?.textContent ?? null,
  }));
  checkEqual('done.received_is_literal_text', [body.received, body.receivedChildren], [`Received: ${TITLE}`, 0]);
  checkEqual('done.no_script_injected', body.injected, null);
  checkEqual('done.footer_note_raw', [body.footerHtml, body.footerEm], [NOTE_HTML, 'rendered by the demo app']);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.artifacts, { recursive: true });
  if (!fs.existsSync(CHROMIUM)) { console.error(`form_test: ${CHROMIUM} is missing (apt-get install chromium)`); process.exit(2); }
  const puppeteer = loadPuppeteer(opts.modules, 'form_test');
  const started = Date.now();
  let server = null;
  let browser = null;
  try {
    if (opts.serverCmd) {
      server = await startServer(opts.serverCmd, path.join(opts.artifacts, 'server.log'));
      console.log(`server: ${server.command}`);
    }
    const baseUrl = server ? server.baseUrl : opts.baseUrl;
    browser = await launch(puppeteer);
    console.log(`browser: ${await browser.version()}`);
    const page = await browser.newPage();
    await page.setViewport({ width: 800, height: 600 });
    const problems = [];
    watchPage(page, problems);
    const form = await formPage(page, baseUrl, opts.artifacts);
    if (form) await submitForm(page, opts.artifacts, form.xsrf);
    check('browser.no_console_errors_or_failed_requests', problems.length === 0, problems.join('; '));
  } catch (err) {
    check('browser.ran_to_the_end', false, err.stack ?? String(err));
  } finally {
    if (browser) await browser.close();
    if (server) await stopServer(server.child);
  }
  const failed = results.filter((r) => !r.ok).length;
  const shots = ['form.png', 'done.png'].map((f) => path.join(opts.artifacts, f)).filter((f) => fs.existsSync(f));
  console.log(`screenshots: ${shots.join(' ') || 'none'}`);
  console.log(`${results.length - failed} passed, ${failed} failed (${Date.now() - started} ms)`);
  process.exit(failed ? 1 : 0);
}

main();
