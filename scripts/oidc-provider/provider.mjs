// An OpenID Connect provider on loopback, for the single sign-on tests.
//
//   node scripts/oidc-provider/provider.mjs [--port N] [--client-id ID] [--client-secret SECRET]
//       [--redirect-uri URL] [--id-token-ttl SECONDS]
//
// Each option may also come from the environment: OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
// OIDC_REDIRECT_URI, OIDC_ID_TOKEN_TTL. The port defaults to 0 (any free port).
//
// It listens on 127.0.0.1 only and prints its issuer URL as the first line of standard output,
// then serves until it is killed or its standard input closes. It knows:
// - the client given (confidential, client_secret_basic, authorization code only, PKCE with S256
//   required), and a second one, `<id>-other` with secret `<secret>-other` and the same redirect
//   URI, for tests that present one client's code as the other's;
// - the static accounts below, whose ID tokens carry `preferred_username`, `name` and `groups`
//   (claims are put in the ID token, not only in the userinfo answer);
// - the development login and consent forms of oidc-provider: any password signs in any of
//   the accounts, so a test logs in by posting the two forms.
//
// It is a test fixture: it keeps everything in memory, and its signing key (ES256) is made at
// start and lives as long as the process.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.OIDC_PORT ?? '0' },
    'client-id': { type: 'string', default: process.env.OIDC_CLIENT_ID ?? 'tollgate' },
    'client-secret': { type: 'string', default: process.env.OIDC_CLIENT_SECRET ?? 'tollgate-test-secret' },
    'redirect-uri': {
      type: 'string',
      default: process.env.OIDC_REDIRECT_URI ?? 'http://127.0.0.1:8080/login/sso/callback',
    },
    'id-token-ttl': { type: 'string', default: process.env.OIDC_ID_TOKEN_TTL ?? '3600' },
  },
});

// The accounts, by the login typed into the form. `claims` is what the ID token says.
const ACCOUNTS = {
  alice: { preferred_username: 'alice', name: 'Alice Admin', groups: ['tollgate-admins', 'staff'] },
  carol: { preferred_username: 'carol', name: 'Carol Release', groups: ['release-managers', 'staff'] },
  // Belongs to no group that Tollgate maps to a role.
  bob: { preferred_username: 'bob', name: 'Bob Outsider', groups: ['contractors'] },
  // Has no preferred_username: Tollgate falls back to the subject.
  erin: { name: 'Erin Subject', groups: ['staff'] },
  // Calls itself like Tollgate's bootstrap administrator.
  mallory: { preferred_username: 'admin', name: 'Mallory', groups: ['tollgate-admins'] },
  // A preferred_username that Tollgate turns into a user name.
  dave: { preferred_username: 'Dave.Smith@Example.COM', name: 'Dave', groups: ['staff'] },
};

// ES256: a P-256 key is made in a millisecond, where an RSA key can take seconds on a busy machine.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'ES256' };

const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  redirect_uris: [options['redirect-uri']],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'ES256',
});

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(options.port), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    client(options['client-id'], options['client-secret']),
    client(`${options['client-id']}-other`, `${options['client-secret']}-other`),
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  scopes: ['openid', 'profile', 'groups'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], groups: ['groups'] },
  conformIdTokenClaims: false,
  ttl: {
    IdToken: Number(options['id-token-ttl']),
    AccessToken: 3600,
    AuthorizationCode: 600,
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  },
  async findAccount(_ctx, id) {
    const claims = ACCOUNTS[id];
    if (!claims) {
      return undefined;
    }
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
});

server.on('request', provider.callback());
process.stdout.write(`${issuer}\n`);

const stop = () => server.close(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
