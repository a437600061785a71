// What the browser tests share: finding puppeteer-core where
// tests/browser/install.sh put it, launching Debian's Chromium headless, the
// loopback helpers for the servers they start, and the PASS/FAIL lines.
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

// install.sh's folder: $TORNADO_BROWSER_HOME, default ~/.cache/tornado-cpp-browser.
export function defaultModulesDir() {
  return process.env.TORNADO_BROWSER_HOME ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'tornado-cpp-browser');
}

// puppeteer-core from `modulesDir`; exits 2 (the test could not run) without it.
export function loadPuppeteer(modulesDir, testName) {
  const require = createRequire(path.join(modulesDir, 'package.json'));
  try {
    return require('puppeteer-core');
  } catch (err) {
    console.error(`${testName}: puppeteer-core not found under ${modulesDir} (run tests/browser/install.sh): ${err.message}`);
    process.exit(2);
  }
}

export function launch(puppeteer) {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--no-default-browser-check', '--disable-extensions'],
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

// One line per check, and the tally at the end.
export const results = [];
export function check(name, ok, detail) {
  results.push({ name, ok });
  console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${detail}`);
  return ok;
}
export function checkEqual(name, actual, expected) {
  return check(name, JSON.stringify(actual) === JSON.stringify(expected),
    `got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
}
