// End-to-end tests of single sign-on (docs/signin.md), in Debian's Chromium:
//
// - a production `rootvault serve` (local keys, initialised and unsealed
//   here) whose org globex signs in through a third-party OpenID provider,
//   the `oidc-provider` package running in this process (idp.mjs);
// - `rootvault dev` and its own dev identity provider;
// - `rootvault login --no-browser`, its printed URL completed in Chromium,
//   then the stored token used by the other verbs until `logout`.
//
// Nothing here talks to anything but 127.0.0.1 (see support.mjs). Run from
// the repository root: `node --test tests/browser/signin.test.mjs`.
// Screenshots go to target/browser-screenshots/signin-*.png.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { IDP_STYLE_HOSTS, startIdp } from './idp.mjs';
import {
  BIN, HTTP_TIMEOUT_MS, ROOT, STARTUP_TIMEOUT_MS, TEST_TIMEOUT_MS,
  api, freePort, launchBrowser, openPage, shot, startDev, startServe, stopServer,
} from './support.mjs';

const CLI_TIMEOUT_MS = 30_000;
// How many provider pages (login, consent) a sign-in may pass through.
const MAX_PROVIDER_PAGES = 3;
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

// ------------------------------------------------------------ the processes

/** The environment of a child: no ROOTVAULT_* of the caller's, plus `extra`. */
function childEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ROOTVAULT_')));
  return { ...env, ...extra };
}

/** Run the rootvault CLI to completion; `{ code, stdout, stderr }`. */
function runCli(args, { env } = {}) {
  return new Promise((resolvePromise, reject) => {
    // Standard input is /dev/null: a pipe the child never reads can fail the
    // test with EPIPE when the child exits before node closes it.
    const child = spawn(BIN, args, { cwd: ROOT, env: env || childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rootvault ${args.join(' ')} did not finish within ${CLI_TIMEOUT_MS / 1000} s\n${stdout}\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code) => { clearTimeout(timer); resolvePromise({ code, stdout, stderr }); });
  });
}

async function cliOk(args, options) {
  const r = await runCli(args, options);
  assert.equal(r.code, 0, `rootvault ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Every audit event the auditor `token` may read, as parsed JSON and raw text. */
async function auditEvents(base, token) {
  const r = await api(base, 'GET', '/v1/audit/events?format=jsonl', { token });
  assert.equal(r.status, 200, `audit events: ${r.status} ${JSON.stringify(r.data)}`);
  const raw = typeof r.data === 'string' ? r.data : JSON.stringify(r.data);
  const events = raw.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  return { raw, events };
}

/** Whether `value` appears as a whole string anywhere in `event`. */
function hasValue(event, value) {
  if (event === value) return true;
  if (event && typeof event === 'object') return Object.values(event).some((v) => hasValue(v, value));
  return false;
}

// -------------------------------------------------------------- the browser

/** Go to `/` signed out: it must send the browser to `/signin`. */
async function openSignIn(page, base) {
  await page.goto(`${base}/`, { waitUntil: 'load' });
  assert.equal(new URL(page.url()).pathname, '/signin', `signed out, / should lead to /signin, not ${page.url()}`);
}

/** The labels of the sign-in page's `data-action="sign-in"` controls. */
async function signInLabels(page) {
  const labels = await page.locator('[data-action="sign-in"]').allTextContents();
  return labels.map((l) => l.trim());
}

async function clickSignIn(page, org) {
  const control = page.locator('[data-action="sign-in"]').filter({ hasText: org });
  assert.equal(await control.count(), 1, `one sign-in control labelled ${org}; the page offers ${await signInLabels(page)}`);
  await control.click();
}

/** On the provider's own login form: sign in as `login`, consent if asked. */
async function passProviderLogin(page, issuer, base, login, shotPrefix) {
  await whilePageShown(page, `the provider's login form for ${login}`, async () => {
    await page.waitForURL((u) => u.origin === issuer);
    await page.locator('input[name="login"]').waitFor({ state: 'visible' });
  });
  await shot(page, `${shotPrefix}-2-provider-login`);
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password: the dev form takes any');
  const loginPage = page.url();
  await page.locator('button[type="submit"]').click();
  await page.waitForURL((u) => u.href !== loginPage);
  for (let i = 0; i < MAX_PROVIDER_PAGES && new URL(page.url()).origin === issuer; i++) {
    const consent = page.locator('input[name="prompt"][value="consent"]');
    await whilePageShown(page, `the provider's consent form for ${login}`, () => consent.waitFor({ state: 'attached' }));
    await shot(page, `${shotPrefix}-3-provider-consent`);
    const consentPage = page.url();
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((u) => u.href !== consentPage);
  }
  await whilePageShown(page, `the way back to rootvault for ${login}`, () => page.waitForURL((u) => u.origin === base));
}

/**
 * Run `step`; if it fails, say which page the browser was on and what it
 * showed (a refusal page, a provider's error), not only that a wait ran out.
 */
async function whilePageShown(page, what, step) {
  try {
    return await step();
  } catch (e) {
    const shown = await page.locator('body').innerText({ timeout: 2_000 }).catch(() => '(unreadable)');
    throw new Error(`${what}: failed on ${page.url()}, which shows:\n${shown.slice(0, 1500)}`, { cause: e });
  }
}

/** The console: signed in as `principal`, on `/` with nothing in the URL. */
async function assertConsoleFor(page, base, principal) {
  await whilePageShown(page, `the console for ${principal}`, () => page.waitForURL(`${base}/`));
  const shown = page.locator('[data-field="principal"]').first();
  await whilePageShown(page, `the principal on the console for ${principal}`, () => shown.waitFor({ state: 'visible' }));
  assert.equal((await shown.textContent()).trim(), principal);
}

async function sessionCookie(context, base) {
  const cookies = await context.cookies(base);
  return cookies.find((c) => c.name === 'rv_session');
}

/** GET `path` with only this session cookie, redirects not followed. */
function getWithSession(base, path, sessionId) {
  return fetch(base + path, {
    headers: { cookie: `rv_session=${sessionId}` },
    redirect: 'manual',
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
}

function assertSentToSignIn(response, what) {
  assert.ok(response.status >= 300 && response.status < 400, `${what}: expected a redirect, got ${response.status}`);
  assert.equal(new URL(response.headers.get('location'), 'http://x').pathname, '/signin', what);
}

// ------------------------------------------------- a third-party provider

describe('single sign-on through a third-party OpenID provider', () => {
  const s = {}; // { dir, idp, serve, base, browser }

  before(async () => {
    s.dir = mkdtempSync(join(tmpdir(), 'rootvault-signin-'));
    // The provider must know rootvault's redirect URI, so the port is chosen first.
    const port = await freePort();
    s.base = `http://127.0.0.1:${port}`;
    s.idp = await startIdp({ redirectUris: [`${s.base}/auth/callback`] });
    const config = join(s.dir, 'rootvault.toml');
    writeFileSync(config, [
      `listen = ${JSON.stringify(`127.0.0.1:${port}`)}`,
      `public_url = ${JSON.stringify(s.base)}`,
      `data_dir = ${JSON.stringify(join(s.dir, 'data'))}`,
      'provider_org = "acme"',
      '',
      '[keys]',
      'provider = "local"',
      '',
      '# The provider org: machines only (bearer tokens), no sign-in for people.',
      '[[orgs]]',
      'name = "acme"',
      'issuer = "https://issuer.acme.test"',
      `jwks_file = ${JSON.stringify(join(ROOT, 'tests', 'fixtures', 'test-issuer.jwks.json'))}`,
      '',
      '# The customer: people sign in through its OpenID provider only.',
      '[[orgs]]',
      'name = "globex"',
      '',
      '[orgs.oidc]',
      `issuer = ${JSON.stringify(s.idp.issuer)}`,
      `client_id = ${JSON.stringify(s.idp.clientId)}`,
      'scopes = "openid email profile groups"',
      'roles_claim = "groups"',
      'role_map = { "rootvault-admins" = "admin", "oncall" = "staff" }',
      '',
    ].join('\n'));
    // The client secret comes from the environment, never the file.
    const env = childEnv({ ROOTVAULT_OIDC_CLIENT_SECRET_GLOBEX: s.idp.clientSecret });

    const init = await cliOk(['init', '--config', config, '--shares', '1', '--threshold', '1'], { env });
    const share = init.stdout.match(/^share 1: (\S+)\s*$/m)?.[1];
    assert.ok(share, `no share in the output of init:\n${init.stdout}`);

    s.serve = startServe(config, { env, logName: 'browser-tests-signin-serve.log' });
    const { base } = await s.serve.ready;
    assert.equal(base, s.base);
    const unseal = await api(s.base, 'POST', '/v1/sys/unseal', { body: { share } });
    assert.equal(unseal.status, 200, JSON.stringify(unseal.data));
    assert.equal(unseal.data.sealed, false, `one share of one unseals: ${JSON.stringify(unseal.data)}`);
    s.browser = await launchBrowser();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    await s.browser?.close().catch(() => {});
    await stopServer(s.serve?.child);
    await s.idp?.close();
    if (s.dir) rmSync(s.dir, { recursive: true, force: true });
  }, { timeout: 30_000 });

  /**
   * In a fresh browser context, sign in at globex as `login` and check the
   * console shows `role`; leaves the page on the console.
   */
  async function signIn(t, login, role) {
    const prefix = `signin-oidc-${login}`;
    const opened = await openPage(s.browser, t, { emptyStylesFrom: IDP_STYLE_HOSTS });
    const { context, page } = opened;
    await openSignIn(page, s.base);
    const labels = await signInLabels(page);
    assert.equal(labels.length, 1, `only globex has a provider; the page offers ${labels}`);
    await shot(page, `${prefix}-1-signin`);
    await clickSignIn(page, 'globex');
    await passProviderLogin(page, s.idp.issuer, s.base, login, prefix);
    await assertConsoleFor(page, s.base, `globex/${login}`);
    await shot(page, `${prefix}-4-console`);
    assert.match(await page.locator('body').innerText(), new RegExp(`\\b${role}\\b`), `the console shows the role ${role}`);
    const cookie = await sessionCookie(context, s.base);
    assert.ok(cookie, 'a session cookie rv_session is set');
    return { ...opened, cookie };
  }

  /** Sign out with the console's control; the session must end on the server. */
  async function signOut(page, cookie, shotName) {
    await page.locator('[data-action="sign-out"]').click();
    await page.waitForURL((u) => u.pathname === '/signin');
    await shot(page, shotName);
    await openSignIn(page, s.base);
    // Ended on the server, not only forgotten by the browser.
    assertSentToSignIn(await getWithSession(s.base, '/', cookie.value), 'the old session cookie after sign-out');
  }

  test('the sign-in page is sent with the console headers', { timeout: TEST_TIMEOUT_MS }, async () => {
    const r = await fetch(`${s.base}/signin`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') || '';
    for (const directive of ["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
    }
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await r.text(), /globex/);
  });

  test('gina signs in at globex, is an admin, and signs out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { page, done, cookie } = await signIn(t, 'gina', 'admin');
    assert.equal(cookie.httpOnly, true, 'rv_session is HttpOnly');
    assert.equal(cookie.sameSite, 'Lax', 'rv_session is SameSite=Lax');
    assert.equal(cookie.path, '/');
    assert.equal(cookie.secure, false, 'no Secure over http://127.0.0.1 (public_url decides)');
    await signOut(page, cookie, 'signin-oidc-gina-5-signed-out');
    await done();
  });

  test('gus signs in at globex and is staff; signing out needs the CSRF token', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { page, done, cookie } = await signIn(t, 'gus', 'staff');

    // A forged sign-out (no csrf_token) is refused and changes nothing.
    const forged = await fetch(`${s.base}/signout`, {
      method: 'POST',
      headers: { cookie: `rv_session=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    assert.equal(forged.status, 403);
    assert.equal((await getWithSession(s.base, '/', cookie.value)).status, 200, 'the session survives a forged sign-out');

    await page.reload({ waitUntil: 'load' });
    await assertConsoleFor(page, s.base, 'globex/gus');
    await signOut(page, cookie, 'signin-oidc-gus-5-signed-out');
    await done();
  });
});

// ------------------------------------- the dev provider and the command line

describe('single sign-on through the dev identity provider, in the console and the CLI', () => {
  const s = {}; // { dir, dev, base, tokens, browser }

  before(async () => {
    s.dir = mkdtempSync(join(tmpdir(), 'rootvault-signin-dev-'));
    s.dev = startDev(join(s.dir, 'data'), { logName: 'browser-tests-signin-dev.log' });
    Object.assign(s, await s.dev.ready);
    s.browser = await launchBrowser();
  }, { timeout: 2 * STARTUP_TIMEOUT_MS });

  after(async () => {
    await s.browser?.close().catch(() => {});
    await stopServer(s.dev?.child);
    if (s.dir) rmSync(s.dir, { recursive: true, force: true });
  }, { timeout: 30_000 });

  function token(name) {
    const t = s.tokens[name];
    assert.ok(t, `no ${name} token in the dev banner (got ${Object.keys(s.tokens).join(', ')})`);
    return t;
  }

  /** On the dev provider's person picker of `org`: pick `sub`. */
  async function pickPerson(page, org, sub, shotName) {
    const person = page.locator(`button[data-action="pick-person"][value="${sub}"]`);
    await whilePageShown(page, `the person picker of ${org}`, async () => {
      await page.waitForURL((u) => u.origin === s.base && u.pathname === `/dev/idp/${org}/authorize`);
      await person.waitFor({ state: 'visible' });
    });
    await shot(page, shotName);
    await person.click();
  }

  test('sam signs in to the console through the dev provider of acme', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { context, page, done } = await openPage(s.browser, t);
    await openSignIn(page, s.base);
    const labels = await signInLabels(page);
    for (const org of ['acme', 'globex', 'initech']) {
      assert.ok(labels.some((l) => l.includes(org)), `the dev sign-in page offers ${org}: ${labels}`);
    }
    await shot(page, 'signin-dev-1-signin');
    await clickSignIn(page, 'acme');
    await pickPerson(page, 'acme', 'sam', 'signin-dev-2-picker');
    await assertConsoleFor(page, s.base, 'acme/sam');
    await shot(page, 'signin-dev-3-console');
    const cookie = await sessionCookie(context, s.base);
    assert.ok(cookie, 'a session cookie rv_session is set');
    await done();

    const { raw, events } = await auditEvents(s.base, token('AUDREY'));
    const signin = events.filter((e) => e.action === 'auth.signin' && e.outcome === 'ok');
    assert.ok(signin.some((e) => hasValue(e, 'acme/sam') && hasValue(e, 'oidc')),
      `an auth.signin event for acme/sam by oidc: ${JSON.stringify(signin)}`);
    assert.ok(!raw.includes(cookie.value), 'no audit event carries the session id');
  });

  test('rootvault login is completed in the browser; the token serves the verbs until logout', { timeout: 2 * TEST_TIMEOUT_MS }, async (t) => {
    const home = mkdtempSync(join(tmpdir(), 'rootvault-signin-home-'));
    const xdg = join(home, 'config');
    // No ROOTVAULT_TOKEN, no ROOTVAULT_ADDR: the stored credentials must do.
    const env = childEnv({ HOME: home, XDG_CONFIG_HOME: xdg });
    const credentials = join(xdg, 'rootvault', 'credentials');
    const login = spawn(BIN, ['login', '--addr', s.base, '--org', 'acme', '--no-browser'], {
      cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      const exited = new Promise((r) => login.once('exit', (code) => r(code)));
      const url = await new Promise((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`rootvault login printed no URL within ${CLI_TIMEOUT_MS / 1000} s:\n${output}`)), CLI_TIMEOUT_MS);
        const scan = (d) => {
          output += d;
          const found = output.match(/(http:\/\/127\.0\.0\.1:\d+\/v1\/auth\/cli\/start\?\S+)/);
          if (found) { clearTimeout(timer); resolvePromise(found[1]); }
        };
        login.stdout.on('data', scan);
        login.stderr.on('data', scan);
        exited.then((code) => { clearTimeout(timer); reject(new Error(`rootvault login exited (${code}) before printing a URL:\n${output}`)); });
      });
      const start = new URL(url);
      assert.equal(start.origin, s.base);
      assert.equal(start.searchParams.get('org'), 'acme');
      for (const p of ['port', 'code_challenge', 'state']) assert.ok(start.searchParams.get(p), `the URL carries ${p}: ${url}`);
      const cliPort = start.searchParams.get('port');

      const { page, done } = await openPage(s.browser, t);
      await page.goto(url, { waitUntil: 'load' });
      await pickPerson(page, 'acme', 'sam', 'signin-cli-1-picker');
      await whilePageShown(page, 'the CLI\'s callback page', () => page.waitForURL((u) => u.origin === `http://127.0.0.1:${cliPort}` && u.pathname === '/callback'));
      assert.match(await page.locator('body').innerText(), /close/i, 'the CLI\'s page says it can be closed');
      await shot(page, 'signin-cli-2-callback');
      await done();

      const code = await Promise.race([
        exited,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`rootvault login did not exit:\n${output}`)), CLI_TIMEOUT_MS)),
      ]);
      assert.equal(code, 0, `rootvault login failed:\n${output}`);
      assert.match(output, /acme\/sam/, 'login says who is signed in');
    } finally {
      if (login.exitCode === null && login.signalCode === null) login.kill('SIGKILL');
    }

    assert.ok(existsSync(credentials), `the credentials are stored in ${credentials}`);
    assert.equal(statSync(credentials).mode & 0o777, 0o600, 'the credentials file is private (0600)');
    const stored = readFileSync(credentials, 'utf8').match(JWT)?.[0];
    assert.ok(stored, 'the credentials file holds a JWT');
    const whoami = await api(s.base, 'GET', '/v1/auth/whoami', { token: stored });
    assert.equal(whoami.status, 200, JSON.stringify(whoami.data));
    assert.equal(whoami.data.principal, 'acme/sam');

    assert.match((await cliOk(['whoami', '--addr', s.base], { env })).stdout, /acme\/sam/);
    await cliOk(['request', 'list', '--addr', s.base], { env });
    // ROOTVAULT_TOKEN still wins over the stored credentials.
    const asAda = await cliOk(['whoami', '--addr', s.base], { env: { ...env, ROOTVAULT_TOKEN: token('ADA') } });
    assert.match(asAda.stdout, /acme\/ada/);

    await cliOk(['logout', '--addr', s.base], { env });
    const revoked = await api(s.base, 'GET', '/v1/auth/whoami', { token: stored });
    assert.equal(revoked.status, 401, 'the token is revoked on the server by logout');
    if (existsSync(credentials)) assert.ok(!readFileSync(credentials, 'utf8').includes(stored), 'logout forgets the token');
    const refused = await runCli(['request', 'list', '--addr', s.base], { env });
    assert.equal(refused.code, 1, `request list after logout should fail:\n${refused.stdout}\n${refused.stderr}`);
    assert.match(refused.stderr, /401|sign(ed)?[ -]?in|log ?in/i, 'the failure says to sign in');

    const { raw, events } = await auditEvents(s.base, token('AUDREY'));
    assert.ok(events.some((e) => e.action === 'auth.signin' && e.outcome === 'ok' && hasValue(e, 'acme/sam') && hasValue(e, 'cli')),
      'an auth.signin event for the CLI token');
    assert.ok(events.some((e) => e.action === 'auth.signout'), 'an auth.signout event for the logout');
    assert.ok(!raw.includes(stored), 'no audit event carries the token');
    rmSync(home, { recursive: true, force: true });
  });
});
