// A real oidc-provider for stanch's tests (tests/lab_oidc_provider.rs), on 127.0.0.1 only.
//
// The bundled runbook's token steps run unchanged against it: discovery, RFC 7009 revocation
// and RFC 7662 introspection are oidc-provider's own (at its default paths, /token/revocation
// and /token/introspection, which differ from the lab's Keycloak-shaped ones). Before it says
// it is ready, it issues tokens through real grants at its own endpoints: client credentials,
// and the authorization code flow with `offline_access` (a refresh token and an access token
// per user), the interaction answered by this script as a login page would.
//
// oidc-provider has no admin API at all. This script serves, from its own store (the adapter
// below), the two operator APIs the lab serves:
// - the lab's own list of a client's active tokens, which the bundled runbook reads before
//   revoking: GET /admin/clients/{id}/tokens (HTTP Basic as the responder client);
// - Keycloak's admin REST API for a client's sessions, as src/lab/keycloak_admin.rs serves it,
//   under /admin/realms/lab with a Bearer client-credentials token of the responder client:
//   GET clients?clientId=, GET clients/{uuid}/user-sessions and /offline-sessions (first,
//   max = 100), GET clients/{uuid}/session-count and /offline-session-count,
//   DELETE sessions/{id}?isOffline=, DELETE users/{id}/consents/{clientId}. A session here is
//   an oidc-provider Grant (offline when it holds a refresh token); ending it revokes every
//   token of the grant through oidc-provider's own adapter call (revokeByGrantId), so
//   oidc-provider itself then refuses the refresh token and introspects the tokens inactive.
//
// Input (environment): STANCH_OIDC_SECRETS, JSON {client_id: secret} for the confidential
// clients; STANCH_OIDC_USERS, how many users link each integration (default 3).
// Output (stdout): one JSON line {"ready": true, "issuer": ..., "port": ..., "issued": {...}}.

import http from 'node:http';
import { once } from 'node:events';

import Provider from 'oidc-provider';

const secrets = JSON.parse(process.env.STANCH_OIDC_SECRETS ?? '{}');
const users = Number(process.env.STANCH_OIDC_USERS ?? '3');
const RESPONDER = 'stanch-responder';
const REDIRECT = 'https://integration.example/callback';

// The operator's token store: every model oidc-provider persists, by kind and id.
const store = new Map();
const expired = (entry) => entry.expiresAt !== undefined && entry.expiresAt <= Date.now();

class Adapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    store.set(this.key(id), { model: this.model, id, payload, expiresAt });
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry || expired(entry)) return undefined;
    return entry.payload;
  }

  async findByUid(uid) {
    for (const entry of store.values()) {
      if (entry.model === this.model && entry.payload.uid === uid && !expired(entry)) {
        return entry.payload;
      }
    }
    return undefined;
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (entry.payload.grantId === grantId) store.delete(key);
    }
  }
}

const TOKEN_KINDS = { AccessToken: 'access_token', ClientCredentials: 'access_token', RefreshToken: 'refresh_token' };

function activeTokens(clientId) {
  const tokens = [];
  for (const entry of store.values()) {
    const type = TOKEN_KINDS[entry.model];
    if (type && entry.payload.clientId === clientId && !expired(entry) && !entry.payload.consumed) {
      tokens.push({ token: entry.id, token_type: type });
    }
  }
  return tokens;
}

// ── Keycloak's admin REST API over the store ──────────────────────────────────────────────

const REALM = 'lab';
const DEFAULT_MAX_RESULTS = 100; // org.keycloak.models.Constants.DEFAULT_MAX_RESULTS
const clientUuids = new Map(Object.keys(secrets).map((id) => [id, crypto.randomUUID()]));

const adminError = (res, status, error) => {
  const headers = { 'content-type': 'application/json' };
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  res.writeHead(status, headers);
  res.end(JSON.stringify({ error }));
};

// 401 without a live access token, 403 with one of another client than the responder's.
function adminCaller(req) {
  const [scheme, value] = (req.headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !value) return 401;
  const entry = store.get(`ClientCredentials:${value}`) ?? store.get(`AccessToken:${value}`);
  if (!entry || expired(entry)) return 401;
  return entry.payload.clientId === RESPONDER ? 200 : 403;
}

// Every live grant of `clientId`, as Keycloak sessions: offline when it holds a refresh token.
function grantSessions(clientId, offline) {
  const sessions = [];
  for (const entry of store.values()) {
    if (entry.model !== 'Grant' || entry.payload.clientId !== clientId || expired(entry)) continue;
    const grantId = entry.id;
    const tokens = [...store.values()].filter((t) => t.payload.grantId === grantId && !expired(t) && !t.payload.consumed);
    if (tokens.length === 0) continue;
    const hasRefresh = tokens.some((t) => t.model === 'RefreshToken');
    if (hasRefresh !== offline) continue;
    const start = (entry.payload.iat ?? Math.floor(Date.now() / 1000)) * 1000;
    sessions.push({
      id: grantId,
      username: entry.payload.accountId,
      userId: entry.payload.accountId,
      ipAddress: '127.0.0.1',
      start,
      lastAccess: start,
      rememberMe: false,
      clients: { [clientUuids.get(clientId)]: clientId },
      transientUser: false,
    });
  }
  return sessions;
}

async function endGrant(grantId) {
  await new Adapter('Grant').revokeByGrantId(grantId);
  store.delete(`Grant:${grantId}`);
}

async function keycloakAdmin(req, res, url) {
  const caller = adminCaller(req);
  if (caller === 401) return adminError(res, 401, 'HTTP 401 Unauthorized');
  if (caller === 403) return adminError(res, 403, 'HTTP 403 Forbidden');
  const parts = url.pathname.split('/').slice(3).map(decodeURIComponent);
  const [realm, kind, id, sub, ...rest] = parts;
  if (realm !== REALM) return adminError(res, 404, 'Realm not found.');
  const clientOf = (uuid) => [...clientUuids].find(([, u]) => u === uuid)?.[0];
  if (req.method === 'GET' && kind === 'clients' && id === undefined) {
    const wanted = url.searchParams.get('clientId');
    const list = [...clientUuids]
      .filter(([clientId]) => wanted === null || wanted === clientId)
      .map(([clientId, uuid]) => ({ id: uuid, clientId, enabled: true, publicClient: false, protocol: 'openid-connect' }));
    return json(res, 200, list);
  }
  if (req.method === 'GET' && kind === 'clients' && rest.length === 0) {
    const clientId = clientOf(id);
    if (!clientId) return adminError(res, 404, 'Could not find client');
    const offline = sub === 'offline-sessions' || sub === 'offline-session-count';
    const sessions = grantSessions(clientId, offline);
    if (sub === 'session-count' || sub === 'offline-session-count') return json(res, 200, { count: sessions.length });
    if (sub === 'user-sessions' || sub === 'offline-sessions') {
      const first = Number(url.searchParams.get('first') ?? 0);
      const max = Number(url.searchParams.get('max') ?? DEFAULT_MAX_RESULTS);
      return json(res, 200, sessions.slice(first, first + max));
    }
  }
  if (req.method === 'DELETE' && kind === 'sessions' && sub === undefined) {
    const offline = url.searchParams.get('isOffline') === 'true';
    const clientId = store.get(`Grant:${id}`)?.payload.clientId;
    if (!clientId || !grantSessions(clientId, offline).some((s) => s.id === id)) {
      return adminError(res, 404, 'Sesssion not found'); // Keycloak's own spelling
    }
    await endGrant(id);
    res.writeHead(204);
    return res.end();
  }
  if (req.method === 'DELETE' && kind === 'users' && sub === 'consents' && rest.length === 1) {
    const grants = [...store.values()].filter((e) => e.model === 'Grant' && e.payload.accountId === id);
    if (grants.length === 0) return adminError(res, 404, 'User not found');
    // The segment is a clientId (realm.getClientByClientId), not a uuid.
    if (!clientUuids.has(rest[0])) return adminError(res, 404, 'Client not found');
    const mine = grants.filter((e) => e.payload.clientId === rest[0]);
    if (mine.length === 0) return adminError(res, 404, 'Consent nor offline token not found');
    for (const grant of mine) await endGrant(grant.id);
    res.writeHead(204);
    return res.end();
  }
  return adminError(res, 404, 'HTTP 404 Not Found');
}

function basicUser(req) {
  const header = req.headers.authorization ?? '';
  const [scheme, value] = header.split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  if (at < 0) return undefined;
  return { id: decodeURIComponent(decoded.slice(0, at)), secret: decodeURIComponent(decoded.slice(at + 1)) };
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

// Listen first: the issuer must name the port.
let handler = (req, res) => json(res, 503, { error: 'starting' });
const server = http.createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const clients = Object.entries(secrets).map(([clientId, secret]) => ({
  client_id: clientId,
  client_secret: secret,
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  redirect_uris: [REDIRECT],
  token_endpoint_auth_method: 'client_secret_basic',
}));

const provider = new Provider(issuer, {
  adapter: Adapter,
  clients,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'devices:control'],
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  pkce: { required: () => false },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  ttl: { AccessToken: 3600, ClientCredentials: 3600, RefreshToken: 86400, Grant: 86400, Session: 86400, Interaction: 600, AuthorizationCode: 60 },
});
const callback = provider.callback();

// Stands in for the login and consent pages: user `user-N` logs in and consents at once.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = details.params.login_hint;
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

handler = (req, res) => {
  const url = new URL(req.url, issuer);
  const admin = url.pathname.match(/^\/admin\/clients\/([^/]+)\/tokens$/);
  if (admin && req.method === 'GET') {
    const caller = basicUser(req);
    if (!caller || caller.id !== RESPONDER || secrets[RESPONDER] !== caller.secret) {
      return json(res, 401, { error: 'invalid_client' });
    }
    const clientId = decodeURIComponent(admin[1]);
    const tokens = activeTokens(clientId);
    return json(res, 200, { client_id: clientId, count: tokens.length, tokens });
  }
  if (url.pathname.startsWith('/admin/realms/')) {
    return keycloakAdmin(req, res, url).catch((e) => json(res, 500, { error: String(e) }));
  }
  if (url.pathname.startsWith('/interaction/')) {
    return interaction(req, res).catch((e) => json(res, 500, { error: String(e) }));
  }
  return callback(req, res);
};

// ── Issue tokens through real grants ─────────────────────────────────────────────────────

const basic = (id) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secrets[id])}`).toString('base64')}`;

async function clientCredentials(clientId) {
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'devices:control' }),
  });
  if (r.status !== 200) throw new Error(`client_credentials for ${clientId}: ${r.status} ${await r.text()}`);
}

// The authorization code flow a user's account linking goes through, with a cookie jar.
async function linkAccount(clientId, user) {
  const jar = new Map();
  const send = async (url, init = {}) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers ?? {}), cookie } });
    for (const line of r.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return r;
  };
  const auth = new URL(`${issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: REDIRECT,
    scope: 'openid offline_access devices:control', prompt: 'consent', login_hint: user,
  });
  let location = auth.href;
  for (let hop = 0; hop < 8; hop += 1) {
    const r = await send(new URL(location, issuer).href);
    location = r.headers.get('location');
    if (!location) throw new Error(`${clientId}/${user}: no redirect (${r.status} ${await r.text()})`);
    if (location.startsWith(REDIRECT)) break;
  }
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`${clientId}/${user}: no code in ${location}`);
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(clientId), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
  });
  const body = await r.json();
  if (r.status !== 200 || !body.refresh_token) throw new Error(`${clientId}/${user}: ${r.status} ${JSON.stringify(body)}`);
}

const issued = {};
try {
  for (const clientId of Object.keys(secrets).filter((id) => id !== RESPONDER)) {
    await clientCredentials(clientId);
    for (let n = 1; n <= users; n += 1) {
      await linkAccount(clientId, `user-${n}`);
    }
    issued[clientId] = activeTokens(clientId).length;
  }
} catch (e) {
  process.stdout.write(`${JSON.stringify({ ready: false, error: String(e?.stack ?? e) })}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ ready: true, issuer, port, issued })}\n`);
