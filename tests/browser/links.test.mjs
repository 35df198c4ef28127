// End-to-end browser tests of the one-time link page (`/l/{id}`).
//
// Starts `target/debug/rootvault dev` on a fresh data directory and a free
// loopback port, drives Debian's Chromium through playwright-core, and checks
// what a recipient sees and what the API records. Nothing here talks to
// anything but 127.0.0.1: the browser runs with its background networking off
// and every request it makes to another host is aborted (and fails the test).
//
// Run from the repository root: `node --test tests/browser/`. Screenshots go
// to target/browser-screenshots/. ROOTVAULT_BIN and CHROMIUM override the
// binaries' paths (see support.mjs).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  HTTP_TIMEOUT_MS, STARTUP_TIMEOUT_MS, TEST_TIMEOUT_MS, UI_TIMEOUT_MS,
  api as call, launchBrowser, openPage as openLoopbackPage, shot, startDev, stopServer, text,
} from './support.mjs';

const ACCOUNT = '100000000002';
const RECIPIENT = { name: 'Jane Doe', email: 'jane@globex.example' };
// Meets the policy: 12+ characters, upper, lower, digit, symbol.
const SUBMITTED_PASSWORD = 'E2e-Browser-Passw0rd!';

const STATUS_USED = 'This link was already used.';
const STATUS_REVEALED = 'Revealed. This link is now used.';
const STATUS_RECEIVED = 'Received and stored. This link is now used.';

// ------------------------------------------------------------------ the API

let server; // { child, base, tokens, dataDir }

async function api(method, path, token, body) {
  const { status, data } = await call(server.base, method, path, { token, body });
  return { status, data };
}

async function apiOk(method, path, token, body, expected = 200) {
  const r = await api(method, path, token, body);
  assert.equal(r.status, expected, `${method} ${path}: expected ${expected}, got ${r.status}: ${JSON.stringify(r.data)}`);
  return r.data;
}

function token(name) {
  const t = server.tokens[name];
  assert.ok(t, `no ${name} token in the dev banner (got ${Object.keys(server.tokens).join(', ')})`);
  return t;
}

/** A break-glass request by sam (password to alice), approved by carol and dave. */
async function approvedRequest() {
  const req = await apiOk('POST', '/v1/requests', token('SAM'), {
    account_id: ACCOUNT,
    reason: 'e2e browser test',
    password_to: 'acme/alice',
    mfa_to: 'acme/bob',
  }, 201);
  assert.match(req.id, /\S/);
  await apiOk('POST', `/v1/requests/${req.id}/approve`, token('CAROL'), {});
  const approved = await apiOk('POST', `/v1/requests/${req.id}/approve`, token('DAVE'), {});
  assert.equal(approved.state, 'approved');
  return approved.id;
}

async function deliverLink() {
  const requestId = await approvedRequest();
  const link = await apiOk('POST', '/v1/links', token('ALICE'), {
    purpose: 'deliver',
    account_id: ACCOUNT,
    half: 'password',
    recipient: RECIPIENT,
    request_id: requestId,
  }, 201);
  assert.ok(link.url.startsWith(`${server.base}/l/${link.id}#`), `unexpected deliver URL ${link.url}`);
  return link;
}

async function collectLink() {
  const link = await apiOk('POST', '/v1/links', token('ALICE'), {
    purpose: 'collect',
    account_id: ACCOUNT,
    half: 'password',
    recipient: RECIPIENT,
  }, 201);
  assert.equal(link.url, `${server.base}/l/${link.id}`, 'a collect link carries no key');
  return link;
}

async function receipt(id) {
  return apiOk('GET', `/v1/links/${id}`, token('ALICE'));
}

async function passwordHalf() {
  const data = await apiOk('GET', `/v1/accounts/${ACCOUNT}/halves`, token('ALICE'));
  const half = data.halves.find((h) => h.half === 'password');
  assert.ok(half, `no password half in ${JSON.stringify(data)}`);
  return half;
}

// -------------------------------------------------------------- the browser

let browser;

/** A fresh context and page that may reach only the server under test. */
const openPage = (t) => openLoopbackPage(browser, t);

async function waitForStatus(page, expected) {
  try {
    await page.waitForFunction(
      (want) => document.getElementById('status')?.textContent === want,
      expected,
      { timeout: UI_TIMEOUT_MS },
    );
  } catch (e) {
    const got = await text(page, '#status').catch(() => '(unreadable)');
    throw new Error(`#status never became "${expected}"; it says "${got}"`, { cause: e });
  }
}

// ----------------------------------------------------------------- the tests

describe('one-time link page', () => {
  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rootvault-browser-'));
    const { child, ready } = startDev(dataDir);
    server = { child, dataDir };
    Object.assign(server, await ready);
    browser = await launchBrowser();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer(server?.child);
    if (server?.dataDir) rmSync(server.dataDir, { recursive: true, force: true });
  }, { timeout: 30_000 });

  test('a deliver link reveals its secret once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const link = await deliverLink();
    const { context, page, done } = await openPage(t);

    await page.goto(link.url, { waitUntil: 'load' });
    await page.locator('#reveal').waitFor({ state: 'visible' });
    assert.equal(await text(page, '#title'), 'Root credentials for you');
    assert.match(await text(page, '#about'), /Jane Doe/);
    assert.equal(await page.locator('#revealed').isVisible(), false, 'nothing is shown before Reveal');
    await shot(page, 'deliver-1-before-reveal');

    await page.locator('#reveal').click();
    await page.waitForFunction(() => (document.getElementById('secret')?.textContent || '').length > 0, null, { timeout: UI_TIMEOUT_MS });
    const secret = await text(page, '#secret');
    assert.equal(secret.length, 32, `the revealed password should be the 32-character generated one, got ${secret.length} characters`);
    assert.match(await text(page, '#root-email'), /@/);
    await waitForStatus(page, STATUS_REVEALED);
    assert.equal(await page.locator('#reveal').isVisible(), false, 'Reveal goes away once used');
    assert.equal(await page.locator('#copy').isVisible(), true, 'a copy button is offered');
    assert.equal(new URL(page.url()).hash, '', 'the key is dropped from the address bar after use');
    await shot(page, 'deliver-2-revealed');

    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
    await page.locator('#copy').click();
    await page.waitForFunction(() => document.getElementById('copied')?.textContent === 'Copied.', null, { timeout: UI_TIMEOUT_MS });
    await waitForStatus(page, STATUS_REVEALED);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'Copy puts the password on the clipboard');

    await page.reload({ waitUntil: 'load' });
    await waitForStatus(page, STATUS_USED);
    assert.equal(await page.locator('#reveal').isVisible(), false, 'a used link offers no Reveal');
    assert.equal(await page.locator('#secret').isVisible(), false, 'a used link shows no secret');
    await shot(page, 'deliver-3-reloaded-used');

    // Following the original e-mailed URL (with its key) again: still used.
    await page.goto(link.url, { waitUntil: 'load' });
    await waitForStatus(page, STATUS_USED);
    assert.equal(await page.locator('#reveal').isVisible(), false);
    await done();

    const view = await receipt(link.id);
    assert.equal(view.state, 'opened');
    assert.ok(view.used_at, 'the receipt records when the link was used');
  });

  test('a collect link stores a submitted password', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const beforeHalf = await passwordHalf();
    const link = await collectLink();
    const { page, done } = await openPage(t);

    await page.goto(link.url, { waitUntil: 'load' });
    await page.locator('#value').waitFor({ state: 'visible' });
    assert.equal(await text(page, '#title'), 'Send your credential');
    assert.equal(await page.locator('#value').getAttribute('type'), 'password');
    await shot(page, 'collect-1-form');

    await page.locator('#value').fill(SUBMITTED_PASSWORD);
    await page.locator('#submit').click();
    await waitForStatus(page, STATUS_RECEIVED);
    assert.equal(await page.locator('#collect').isVisible(), false, 'the form goes away once used');
    await shot(page, 'collect-2-received');

    await page.reload({ waitUntil: 'load' });
    await waitForStatus(page, STATUS_USED);
    assert.equal(await page.locator('#value').isVisible(), false, 'a used collect link offers no form');
    await shot(page, 'collect-3-reloaded-used');
    await done();

    const afterHalf = await passwordHalf();
    assert.ok(afterHalf.current_version > beforeHalf.current_version,
      `current_version should increase: ${beforeHalf.current_version} -> ${afterHalf.current_version}`);
    const newest = afterHalf.versions.reduce((a, b) => (b.version > a.version ? b : a));
    assert.equal(newest.version, afterHalf.current_version);
    assert.equal(newest.source, 'link');
    assert.equal((await receipt(link.id)).state, 'opened');
  });

  test('opening the page does not consume the link', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const link = await deliverLink();
    const { page, done } = await openPage(t);

    await page.goto(link.url, { waitUntil: 'load' });
    await page.locator('#reveal').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#reveal').isEnabled(), true);
    await shot(page, 'preview-1-opened-not-revealed');
    await done();

    // A link preview bot or prefetcher: plain GETs of the URL, twice.
    for (let i = 0; i < 2; i++) {
      const r = await fetch(link.url, {
        headers: { 'user-agent': 'Mozilla/5.0 (compatible; LinkPreviewBot/1.0)' },
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
      assert.equal(r.status, 200);
      assert.match(await r.text(), /One-time link/);
    }

    const view = await receipt(link.id);
    assert.equal(view.state, 'pending');
    assert.equal(view.used_at, null);
  });
});
