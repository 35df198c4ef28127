// The third-party OpenID provider of the sign-in tests (idp.mjs), on its own:
// discovery, then the authorization code flow with PKCE driven over plain
// HTTP (its login and consent forms submitted by hand), ending in an ID
// token whose signature, audience, nonce and `groups` are checked. This
// proves the harness before rootvault's relying party is pointed at it.
//
// Run from the repository root: `node --test tests/browser/idp.test.mjs`.

import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startIdp } from './idp.mjs';
import { HTTP_TIMEOUT_MS } from './support.mjs';

// Never followed: the flow stops at the redirect that carries the code.
const REDIRECT_URI = 'http://127.0.0.1:9/auth/callback';
const SCOPE = 'openid email profile groups';
const MAX_HOPS = 12;

let idp;
let discovery;

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const random = () => b64url(randomBytes(32));

/** A cookie jar that is just enough for the provider's cookies. */
class Jar {
  #cookies = new Map();

  take(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))
        || attributes.some((a) => /^\s*expires=.*1970/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function send(jar, url, { method = 'GET', form, headers = {} } = {}) {
  const response = await fetch(url, {
    method,
    redirect: 'manual',
    headers: { cookie: jar.header(), ...headers, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form).toString() : undefined,
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  jar.take(response);
  return response;
}

const decodeEntities = (s) => s.replace(/&amp;/g, '&').replace(/&#x2F;/gi, '/').replace(/&quot;/g, '"');

/** The development interaction form on a page: where it posts and which prompt. */
function interactionForm(html) {
  const action = html.match(/<form[^>]*action="([^"]+)"/);
  const prompt = html.match(/name="prompt" value="(\w+)"/);
  assert.ok(action && prompt, `no interaction form on the provider's page:\n${html.slice(0, 2000)}`);
  return { action: decodeEntities(action[1]), prompt: prompt[1] };
}

/**
 * Start at the authorization endpoint with `params`, sign in as `login`,
 * consent if asked, and return the URL the provider finally redirects to
 * on REDIRECT_URI (carrying a code or an error).
 */
async function authorize(params, login) {
  const jar = new Jar();
  let url = `${discovery.authorization_endpoint}?${new URLSearchParams(params)}`;
  let response = await send(jar, url);
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    if (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location'), url);
      if (next.href.startsWith(REDIRECT_URI)) return next;
      url = next.href;
      response = await send(jar, url);
      continue;
    }
    const html = await response.text();
    assert.equal(response.status, 200, `unexpected ${response.status} from ${url}: ${html}`);
    const form = interactionForm(html);
    const fields = form.prompt === 'login'
      ? { prompt: 'login', login, password: 'anything' }
      : { prompt: form.prompt };
    url = new URL(form.action, url).href;
    response = await send(jar, url, { method: 'POST', form: fields });
  }
  throw new Error(`the flow did not come back to ${REDIRECT_URI} within ${MAX_HOPS} hops`);
}

function pkce() {
  const verifier = random();
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  return { verifier, challenge };
}

function authParams({ challenge, state, nonce }) {
  return {
    response_type: 'code',
    client_id: idp.clientId,
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
}

async function exchange(code, verifier) {
  const basic = Buffer.from(`${encodeURIComponent(idp.clientId)}:${encodeURIComponent(idp.clientSecret)}`).toString('base64');
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    }).toString(),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  return { status: response.status, body: await response.json() };
}

/** Verify an RS256 ID token against the provider's published keys; return its claims. */
async function verifiedClaims(idToken) {
  const [header64, payload64, signature64] = idToken.split('.');
  const header = JSON.parse(Buffer.from(header64, 'base64url'));
  assert.equal(header.alg, 'RS256');
  const jwks = await (await fetch(discovery.jwks_uri, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })).json();
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key ${header.kid} in the provider's JWKS`);
  assert.equal(jwk.d, undefined, 'the JWKS publishes no private key');
  const ok = verify('sha256', Buffer.from(`${header64}.${payload64}`), createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(signature64, 'base64url'));
  assert.ok(ok, 'the ID token signature verifies');
  return JSON.parse(Buffer.from(payload64, 'base64url'));
}

/** The whole flow for `login`: the ID token's verified claims. */
async function signIn(login) {
  const { verifier, challenge } = pkce();
  const state = random();
  const nonce = random();
  const back = await authorize(authParams({ challenge, state, nonce }), login);
  assert.equal(back.searchParams.get('error'), null, `the provider refused: ${back.search}`);
  assert.equal(back.searchParams.get('state'), state);
  const code = back.searchParams.get('code');
  assert.ok(code, `no code in ${back.href}`);
  const { status, body } = await exchange(code, verifier);
  assert.equal(status, 200, JSON.stringify(body));
  const claims = await verifiedClaims(body.id_token);
  assert.equal(claims.iss, idp.issuer);
  assert.equal(claims.aud, idp.clientId);
  assert.equal(claims.nonce, nonce);
  assert.ok(claims.exp > Date.now() / 1000, 'the ID token has not expired');
  return { claims, code, verifier };
}

describe('the third-party OpenID provider harness', () => {
  before(async () => {
    idp = await startIdp({ redirectUris: [REDIRECT_URI] });
    const r = await fetch(`${idp.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
    assert.equal(r.status, 200);
    discovery = await r.json();
  });

  after(async () => { await idp?.close(); });

  test('discovery names the loopback issuer, S256 and the groups scope', () => {
    assert.equal(discovery.issuer, idp.issuer);
    assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
      assert.ok(discovery[key].startsWith(`${idp.issuer}/`), `${key} is on the issuer: ${discovery[key]}`);
    }
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
    assert.ok(discovery.scopes_supported.includes('groups'), `scopes: ${discovery.scopes_supported}`);
    assert.ok(discovery.claims_supported.includes('groups'), `claims: ${discovery.claims_supported}`);
    assert.ok(discovery.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
  });

  test('gina signs in with PKCE and gets an ID token with her groups and e-mail', { timeout: 30_000 }, async () => {
    const { claims } = await signIn('gina');
    assert.equal(claims.sub, 'gina');
    assert.deepEqual(claims.groups, ['rootvault-admins']);
    assert.equal(claims.email, 'gina@globex.example');
    // No auth_time unless asked for (max_age): a relying party falls back to iat.
    assert.ok(claims.iat <= Date.now() / 1000 + 1, 'the ID token says when it was issued');
  });

  test('gus is in oncall', { timeout: 30_000 }, async () => {
    const { claims } = await signIn('gus');
    assert.equal(claims.sub, 'gus');
    assert.deepEqual(claims.groups, ['oncall']);
  });

  test('an authorization request without a code challenge is refused', { timeout: 30_000 }, async () => {
    const params = authParams({ challenge: 'x', state: random(), nonce: random() });
    delete params.code_challenge;
    delete params.code_challenge_method;
    const back = await authorize(params, 'gina');
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.match(back.searchParams.get('error_description'), /PKCE/);
  });

  test('a code works once and only with its verifier', { timeout: 30_000 }, async () => {
    const { verifier, challenge } = pkce();
    const back = await authorize(authParams({ challenge, state: random(), nonce: random() }), 'gus');
    const code = back.searchParams.get('code');
    const wrong = await exchange(code, random());
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_grant');
    const right = await exchange(code, verifier);
    assert.equal(right.status, 200, JSON.stringify(right.body));
    const again = await exchange(code, verifier);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
  });
});
