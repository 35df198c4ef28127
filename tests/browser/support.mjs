// What the browser tests share: starting and stopping rootvault, a free
// loopback port, Chromium with every request off 127.0.0.1 refused, and
// screenshots.
//
// Nothing here talks to anything but 127.0.0.1. ROOTVAULT_BIN and CHROMIUM
// override the binaries' paths.

import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.ROOTVAULT_BIN || join(ROOT, 'target', 'debug', 'rootvault');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = join(ROOT, 'target', 'browser-screenshots');

export const STARTUP_TIMEOUT_MS = 60_000;
export const HTTP_TIMEOUT_MS = 15_000;
export const UI_TIMEOUT_MS = 15_000;
export const TEST_TIMEOUT_MS = 90_000;

// ---------------------------------------------------------------- the server

/**
 * Spawn rootvault with `args` and resolve once `isReady(line, seen)` says so
 * for a line of its standard output. `seen` collects `base` (from
 * `listening on http://127.0.0.1:PORT`) and `tokens` (from the dev banner's
 * `export NAME=TOKEN` lines). Standard error goes to target/`logName`.
 */
function startRootvault(args, { env = {}, logName, isReady }) {
  mkdirSync(join(ROOT, 'target'), { recursive: true });
  const child = spawn(BIN, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...env },
  });
  // Kill the server even if the runner is torn down without `after`.
  process.once('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  child.stderr.pipe(createWriteStream(join(ROOT, 'target', logName)));
  let stderrTail = '';
  child.stderr.on('data', (d) => { stderrTail = (stderrTail + d).slice(-4000); });

  const ready = new Promise((resolvePromise, reject) => {
    let out = '';
    const seen = { base: null, tokens: {} };
    const what = `rootvault ${args[0]}`;
    const timer = setTimeout(() => {
      reject(new Error(`${what} was not ready within ${STARTUP_TIMEOUT_MS / 1000} s; stderr:\n${stderrTail}`));
    }, STARTUP_TIMEOUT_MS);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited early (code ${code}, signal ${signal}); stderr:\n${stderrTail}`));
    };
    child.once('exit', onExit);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.stdout.on('data', (d) => {
      out += d;
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const listening = line.match(/^listening on (http:\/\/127\.0\.0\.1:\d+)\s*$/);
        if (listening) seen.base = listening[1];
        const exported = line.match(/^\s+export ([A-Z_]+)=(\S+)\s*$/);
        if (exported) seen.tokens[exported[1]] = exported[2];
        if (isReady(line, seen)) {
          clearTimeout(timer);
          child.off('exit', onExit);
          child.stdout.resume();
          resolvePromise(seen);
          return;
        }
      }
    });
  });
  return { child, ready };
}

/**
 * Start `rootvault dev` on a fresh data directory; `ready` resolves with its
 * base URL and the demo tokens of its banner.
 */
export function startDev(dataDir, { listen = '127.0.0.1:0', logName = 'browser-tests-server.log' } = {}) {
  return startRootvault(['dev', '--data-dir', dataDir, '--listen', listen], {
    logName,
    // The walkthrough follows the exports: once it starts, all are in.
    isReady: (line, seen) => Boolean(seen.base) && line.startsWith('Walkthrough'),
  });
}

/** Start `rootvault serve --config FILE`; `ready` resolves with its base URL. */
export function startServe(configPath, { env = {}, logName = 'browser-tests-serve.log' } = {}) {
  return startRootvault(['serve', '--config', configPath], {
    env,
    logName,
    isReady: (_line, seen) => Boolean(seen.base),
  });
}

/** SIGTERM, then SIGKILL if it has not exited after 5 s. */
export async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A loopback port that was free a moment ago, for a server whose address
 * must be known before it starts (a redirect URI registered with a provider).
 */
export async function freePort() {
  const server = createServer();
  await new Promise((r, j) => { server.once('error', j); server.listen(0, '127.0.0.1', r); });
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** JSON (or text) from `base + path`, bounded in time. */
export async function api(base, method, path, { token, body, headers = {} } = {}) {
  const h = { accept: 'application/json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const r = await fetch(base + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await r.text();
  let data;
  try { data = JSON.parse(text); } catch { data = text; }
  return { status: r.status, headers: r.headers, data };
}

// -------------------------------------------------------------- the browser

/** Debian's Chromium, headless, with its background networking off. */
export function launchBrowser() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A fresh context and page that may reach only 127.0.0.1. Every uncaught
 * page error, console error and off-loopback request is recorded; `done()`
 * asserts there were none and closes the context.
 *
 * `expectedConsoleErrors` lists patterns of console errors a test provokes
 * on purpose (the browser logs a refused page's 4xx status as one).
 *
 * `emptyStylesFrom` names hosts whose stylesheet requests (e.g. a third-party
 * login page's web fonts) are answered here with an empty stylesheet instead
 * of being counted as problems: they still never leave the machine.
 */
export async function openPage(
  browser,
  t,
  { emptyStylesFrom = [], viewport = { width: 900, height: 700 }, expectedConsoleErrors = [] } = {},
) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(UI_TIMEOUT_MS);
  const problems = [];
  await context.route('**/*', (route) => {
    const request = route.request();
    const url = new URL(request.url());
    if (url.hostname === '127.0.0.1') return route.continue();
    if (emptyStylesFrom.includes(url.hostname) && request.resourceType() === 'stylesheet') {
      return route.fulfill({ status: 200, contentType: 'text/css', body: '' });
    }
    problems.push(`request off loopback: ${url.href}`);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !expectedConsoleErrors.some((re) => re.test(m.text()))) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  const done = async () => {
    await context.close();
    assert.deepEqual(problems, [], `the page misbehaved in "${t.name}"`);
  };
  return { context, page, done };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, timeout: UI_TIMEOUT_MS });
}

export const text = (page, selector) => page.locator(selector).textContent({ timeout: UI_TIMEOUT_MS });
