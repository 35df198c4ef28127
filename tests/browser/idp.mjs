// A third-party OpenID provider for the sign-in tests: the `oidc-provider`
// package (not rootvault's code) running in this process on 127.0.0.1.
//
// It plays a customer's identity provider (globex): one confidential client,
// authorization code with PKCE (S256) required, client_secret_basic at the
// token endpoint, and a `groups` claim released with the `groups` scope. Its
// login form is the package's own development one: it takes any login name
// (and any password), and the account is whatever `findAccount` says that
// name is. Nothing is persisted; keys are generated at start.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

/** The people the provider knows; any other login name has no groups. */
export const IDP_PEOPLE = {
  gina: { name: 'Gina Admin', groups: ['rootvault-admins'] },
  gus: { name: 'Gus Oncall', groups: ['oncall'] },
  gil: { name: 'Gil Nobody', groups: ['employees'] },
};

/** The host of the web fonts the development login page asks for. */
export const IDP_STYLE_HOSTS = ['fonts.googleapis.com'];

const SECONDS = { minute: 60, tenMinutes: 600, hour: 3600 };

function account(domain, sub) {
  const person = IDP_PEOPLE[sub] || { name: sub, groups: [] };
  return {
    accountId: sub,
    // Claims the provider then filters by the scopes and claims granted.
    async claims() {
      return {
        sub,
        email: `${sub}@${domain}`,
        email_verified: true,
        name: person.name,
        groups: person.groups,
      };
    },
  };
}

/**
 * Start the provider on a free loopback port.
 *
 * `redirectUris`: what the relying party registers (rootvault:
 * `{public_url}/auth/callback`). Resolves with `{ issuer, clientId,
 * clientSecret, close }`.
 */
export async function startIdp({
  redirectUris,
  clientId = 'rootvault',
  clientSecret = randomBytes(32).toString('base64url'),
  domain = 'globex.example',
} = {}) {
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) {
    throw new Error('startIdp needs the redirect URIs of the relying party');
  }
  // The issuer names the port, so listen first and hand requests to the
  // provider once it exists.
  let handler = (_req, res) => { res.statusCode = 503; res.end(); };
  const server = createServer((req, res) => handler(req, res));
  await new Promise((r, j) => { server.once('error', j); server.listen(0, '127.0.0.1', r); });
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [{ ...signingKey, kid: 'idp-test-rs256', alg: 'RS256', use: 'sig' }] },
    findAccount: async (_ctx, sub) => account(domain, sub),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // Put the scope-requested claims (email, groups) in the ID token too, as
    // Okta, Entra ID and Keycloak can be set to, not only at userinfo.
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: true },
      // No revocation, introspection or registration: a relying party needs
      // discovery, authorization, token, userinfo and keys.
      revocation: { enabled: false },
      introspection: { enabled: false },
      registration: { enabled: false },
    },
    // Plain http on loopback: the cookies cannot be Secure, so the long-lived
    // session cookie must not ask for SameSite=None (browsers drop that
    // without Secure).
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // Browsers only reach the provider by navigation: no CORS.
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: SECONDS.tenMinutes,
      AuthorizationCode: SECONDS.minute,
      IdToken: SECONDS.tenMinutes,
      Interaction: SECONDS.tenMinutes,
      Grant: SECONDS.hour,
      Session: SECONDS.hour,
    },
  });
  // Requests come straight from the tests, never through a proxy.
  provider.proxy = false;
  handler = provider.callback();

  const close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return { issuer, clientId, clientSecret, close };
}
