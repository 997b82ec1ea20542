// A real, certified OpenID provider (panva's oidc-provider) for Lakehold's identity tests.
//
// Started by tests/identity/provider.py on 127.0.0.1 (PORT); the issuer is
// http://127.0.0.1:<PORT>. Its development interactions are on: the login form accepts any
// password for the accounts below (the login is the account id, which is the subject).
//
//   PORT=9000 [WEB_PROVIDERS=local,strict] [REDIRECT_BASE=https://testserver] [DEVICE_FLOW=0] \
//     [JWKS='{"keys": [...]}'] node provider.mjs
//
// Clients:
//   lakehold-web  confidential (client_secret_basic), authorization code + PKCE, redirecting to
//                 <REDIRECT_BASE>/login/oidc/<provider>/callback for each of WEB_PROVIDERS
//                 (default https://testserver: the FastAPI TestClient)
//   lakehold-cli  public (no secret), native: device authorization grant, or authorization
//                 code + PKCE to a loopback redirect on any port (RFC 8252)
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
if (!port) {
  console.error('PORT is required');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const ACCOUNTS = {
  alice: {
    preferred_username: 'alice',
    name: 'Alice Analyst',
    email: 'alice@example.com',
    email_verified: true,
    groups: ['analysts', 'everyone'],
  },
  bob: {
    preferred_username: 'bob',
    name: 'Bob Builder',
    email: 'bob@example.com',
    email_verified: true,
    groups: ['everyone'],
  },
  // another person whose preferred username is taken by alice: Lakehold makes it unique
  alice2: {
    preferred_username: 'Alice',
    name: 'Alice Again',
    email: 'alice.again@example.com',
    email_verified: true,
    groups: [],
  },
};

const WEB_PROVIDERS = (process.env.WEB_PROVIDERS || 'local').split(',');
const REDIRECT_BASE = process.env.REDIRECT_BASE || 'https://testserver';
const DEVICE_FLOW = process.env.DEVICE_FLOW !== '0';

const configuration = {
  // JWKS: the signing keys (a private JWK set, JSON), so that tests can also sign tokens with
  // the provider's own key; default: oidc-provider's development keys
  ...(process.env.JWKS ? { jwks: JSON.parse(process.env.JWKS) } : {}),
  clients: [
    {
      client_id: 'lakehold-web',
      client_secret: 'lakehold-web-secret',
      client_name: 'Lakehold portal',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: WEB_PROVIDERS.map(
        (name) => `${REDIRECT_BASE}/login/oidc/${name}/callback`,
      ),
    },
    {
      client_id: 'lakehold-cli',
      client_name: 'Lakehold CLI',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: [
        'authorization_code',
        ...(DEVICE_FLOW ? ['urn:ietf:params:oauth:grant-type:device_code'] : []),
      ],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: DEVICE_FLOW },
  },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
