// The 3 a.m. story through the console alone (DESIGN §14), in headless
// Chromium: five people in separate browser contexts, each signed in at
// the dev identity provider. sam asks for access, carol and dave approve
// (dave on a 360 × 740 phone), alice reveals the password, bob reads an MFA
// code, alice is refused the code; then a shared-payer request approved by
// one provider and one customer approver; then the approve flow with the
// keyboard alone. Screenshots of each step go to target/browser-screenshots/.
//
// Run from the repository root after `cargo build`:
// `node --test tests/browser/console.test.mjs`.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BIN, TEST_TIMEOUT_MS, launchBrowser, openPage, shot, startDev, stopServer, text } from './support.mjs';

const PHONE = { width: 360, height: 740 };
const PROVIDER_SPLIT = '100000000002';
const SHARED_PAYER = '100000000001';

describe('the console at 3 a.m.', () => {
  let server;
  let browser;
  let dataDir;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rootvault-console-'));
    server = startDev(dataDir, { logName: 'browser-console-server.log' });
    Object.assign(server, await server.ready);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await stopServer(server?.child);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    rmSync(`${dataDir}-witness`, { recursive: true, force: true });
  });

  /** A person signed in at their org's dev provider, in a context of their own. */
  async function person(t, org, sub, options = {}) {
    const opened = await openPage(browser, t, options);
    const { page } = opened;
    await page.goto(`${server.base}/`);
    await page.locator(`[data-action="sign-in"][data-org="${org}"]`).click();
    await page.locator(`button[data-action="pick-person"][value="${sub}"]`).click();
    await page.waitForURL(`${server.base}/`);
    assert.equal((await text(page, '[data-field="principal"]')).trim(), `${org}/${sub}`);
    return opened;
  }

  /** sam asks for access to `account`; returns the request page's URL. */
  async function samAsks(sam, account, passwordTo, mfaTo, shotName) {
    const { page } = sam;
    await page.goto(`${server.base}/requests/new`);
    await page.selectOption('#account_id', account);
    await page.fill('#reason', 'Root sign-in needed: billing console locked (3 a.m. page)');
    await page.fill('#ticket', 'INC-3001');
    await page.fill('#password_to', passwordTo);
    await page.fill('#mfa_to', mfaTo);
    await shot(page, `${shotName}-1-request-form`);
    await page.locator('[data-action="request-create"]').click();
    await page.waitForURL(/\/requests\/req_[0-9a-f]+$/);
    assert.equal((await text(page, '[data-field="request-state"]')).trim(), 'pending');
    await shot(page, `${shotName}-2-requested`);
    return page.url();
  }

  async function approve(approver, url, comment, shotName) {
    const { page } = approver;
    await page.goto(url);
    await page.fill('#comment', comment);
    await page.locator('[data-action="approve"]').click();
    await page.waitForURL(url);
    await shot(page, shotName);
    return (await text(page, '[data-field="request-state"]')).trim();
  }

  test('sam asks, carol and dave approve, alice and bob receive, alice is refused the code', { timeout: TEST_TIMEOUT_MS * 2 }, async (t) => {
    const sam = await person(t, 'acme', 'sam');
    const carol = await person(t, 'acme', 'carol');
    const dave = await person(t, 'acme', 'dave', { viewport: PHONE });
    // Going back to the password page asks the server again, which has no
    // view left to give (410): that refusal is logged by the browser.
    const alice = await person(t, 'acme', 'alice', { expectedConsoleErrors: [/status of 410/] });
    const bob = await person(t, 'acme', 'bob');

    const url = await samAsks(sam, PROVIDER_SPLIT, 'acme/alice', 'acme/bob', 'console-story');

    // carol finds it in her work list.
    await carol.page.goto(`${server.base}/`);
    await carol.page.locator(`a[href="${new URL(url).pathname}"]`).first().click();
    assert.equal(await approve(carol, url, 'INC-3001 checked', 'console-story-3-carol-approved'), 'pending');
    assert.equal(await approve(dave, url, 'ok from my phone', 'console-story-4-dave-approved-on-phone'), 'approved');
    const width = await dave.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `the request page fits a 360 px screen (${width} px wide)`);

    // alice: nothing secret before the click, the password after it.
    const sent = [];
    alice.page.on('request', (r) => sent.push({ url: r.url(), referer: r.headers().referer || '' }));
    await alice.page.goto(url);
    const before = await alice.page.content();
    await alice.page.locator('[data-action="reveal-password"]').click();
    const password = (await text(alice.page, '[data-field="password"]')).trim();
    assert.ok(password.length >= 12, 'a password is shown');
    assert.ok(!before.includes(password), 'the password was not in the page before the click');
    assert.ok(!alice.page.url().includes(password), 'the password is not in a URL');
    assert.equal((await text(alice.page, '[data-field="views-left"]')).trim(), '0');
    await shot(alice.page, 'console-story-5-alice-password');
    // Nothing the browser sends afterwards carries it (no Referer at all),
    // and going back in the history does not show it again (no-store).
    await alice.page.goto(`${server.base}/`);
    for (const r of sent) {
      assert.ok(!r.url.includes(password) && !r.referer.includes(password), `${r.url} carried the password`);
      assert.equal(r.referer, '', `${r.url} was sent with a Referer`);
    }
    await alice.page.goBack().catch(() => {});
    assert.ok(!(await alice.page.content()).includes(password), 'the history does not show the password again');

    // bob: a six-digit code, with seconds left.
    await bob.page.goto(url);
    await bob.page.locator('[data-action="mfa-code"]').click();
    const code = (await text(bob.page, '[data-field="mfa-code"]')).trim();
    assert.match(code, /^\d{6}$/);
    // The page counts the seconds down by itself (self-hosted script, CSP intact).
    const first = Number((await text(bob.page, '[data-field="seconds-left"]')).trim());
    await bob.page.waitForFunction(
      (start) => Number(document.querySelector('[data-field="seconds-left"]').textContent) !== start,
      first,
      { timeout: 5_000 },
    );
    await shot(bob.page, 'console-story-6-bob-code');

    // alice is offered no code, and asking anyway is refused in plain words.
    await alice.page.goto(url);
    assert.equal(await alice.page.locator('[data-action="mfa-code"]').count(), 0);
    const token = await alice.page.locator('input[name="csrf_token"]').first().inputValue();
    const refused = await alice.page.request.post(`${url}/mfa-code`, { form: { csrf_token: token } });
    assert.equal(refused.status(), 403);
    assert.match(await refused.text(), /data-field="error"[^>]*>[^<]*recipient/);
    for (const p of [sam, carol, dave, alice, bob]) await p.done();
  });

  test('a shared-payer request needs one provider and one customer approver', { timeout: TEST_TIMEOUT_MS * 2 }, async (t) => {
    const sam = await person(t, 'acme', 'sam');
    const carol = await person(t, 'acme', 'carol');
    const dave = await person(t, 'acme', 'dave', { expectedConsoleErrors: [/status of 409/] });
    const grace = await person(t, 'globex', 'grace', { viewport: PHONE });
    const gus = await person(t, 'globex', 'gus');

    const url = await samAsks(sam, SHARED_PAYER, 'acme/alice', 'globex/gus', 'console-shared');
    assert.equal(await approve(carol, url, 'provider side', 'console-shared-3-carol'), 'pending');
    // A second provider approval is refused in plain words.
    await dave.page.goto(url);
    await dave.page.fill('#comment', 'me too');
    await dave.page.locator('[data-action="approve"]').click();
    assert.match(await text(dave.page, '[data-field="error"]'), /customer/);
    await shot(dave.page, 'console-shared-4-dave-refused');
    assert.equal(await approve(grace, url, 'globex agrees', 'console-shared-5-grace-approved-on-phone'), 'approved');

    await gus.page.goto(url);
    await gus.page.locator('[data-action="mfa-code"]').click();
    assert.match((await text(gus.page, '[data-field="mfa-code"]')).trim(), /^\d{6}$/);
    await shot(gus.page, 'console-shared-6-gus-code');
    for (const p of [sam, carol, dave, grace, gus]) await p.done();
  });

  test('an auditor downloads a bundle that rootvault audit verify accepts', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const audrey = await person(t, 'acme', 'audrey');
    const { page } = audrey;
    await page.goto(`${server.base}/audit`);
    await shot(page, 'console-audit-1-events');
    const save = async (locator, name) => {
      const [download] = await Promise.all([page.waitForEvent('download'), locator.click()]);
      const path = join(dataDir, name);
      await download.saveAs(path);
      return path;
    };
    const checkpoint = await save(page.locator('a[data-action="audit-download"][href^="/audit/checkpoint.txt"]'), 'trusted-checkpoint.txt');
    const bundle = await save(page.locator('button[data-action="audit-download"]'), 'bundle.json');
    const key = (await text(page, '[data-field="public-key"]')).trim();
    const command = (await text(page, '[data-field="verify-command"]')).trim();
    assert.ok(command.includes(`--public-key '${key}'`), command);
    const out = execFileSync(BIN, ['audit', 'verify', bundle, '--public-key', key, '--trusted-checkpoint', checkpoint], {
      encoding: 'utf8',
    });
    assert.match(out, /OK|verified/i, out);
    await audrey.done();
  });

  test('an approver approves with the keyboard alone', { timeout: TEST_TIMEOUT_MS * 2 }, async (t) => {
    const sam = await person(t, 'acme', 'sam');
    const carol = await person(t, 'acme', 'carol');
    const url = await samAsks(sam, PROVIDER_SPLIT, 'acme/alice', 'acme/bob', 'console-keyboard');
    const { page } = carol;
    await page.goto(url);
    // Tab until the comment box has focus, type, Tab to Approve, Enter.
    let focused = '';
    for (let i = 0; i < 40 && focused !== 'comment'; i += 1) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id || '');
    }
    assert.equal(focused, 'comment', 'the comment box is reachable by Tab');
    await page.keyboard.type('checked from the keyboard');
    let action = '';
    for (let i = 0; i < 10 && action !== 'approve'; i += 1) {
      await page.keyboard.press('Tab');
      action = await page.evaluate(() => document.activeElement?.getAttribute('data-action') || '');
    }
    assert.equal(action, 'approve', 'Approve follows the comment in the tab order');
    await page.keyboard.press('Enter');
    await page.waitForURL(url);
    await page.waitForFunction(() => document.querySelector('[data-field="request-state"]'));
    assert.match(await page.content(), /carol/);
    await shot(page, 'console-keyboard-approved');
    for (const p of [sam, carol]) await p.done();
  });
});
