// The console's protection as a local web UI: the token (URL → cookie), the Host check (DNS rebinding), the
// Origin check and JSON-only writes (CSRF), no CORS, loopback only. First the pure guard, then the real HTTP
// server (its API server is a closed loopback port: every refusal here happens before any cluster call).
import { createServer } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { M87Client } from '../../../src/client/index.ts';
import { allowedHosts, cookieName, guard, isLoopback, type GuardContext, type GuardResult } from '../../../src/console/security.ts';
import { startConsole, type ConsoleHandle } from '../../../src/console/server.ts';

const TOKEN = 'a'.repeat(43);
const ctx: GuardContext = { token: TOKEN, port: 4242, hosts: allowedHosts('127.0.0.1', 4242) };
const cookie = `${cookieName(4242)}=${TOKEN}`;
const get = (url: string, headers: Record<string, string> = {}) => guard({ method: 'GET', url, headers: { host: '127.0.0.1:4242', ...headers } }, ctx);
const messageOf = (r: GuardResult): string => (r.kind === 'refuse' ? r.message : `not refused: ${r.kind}`);
const post = (headers: Record<string, string>) => guard({ method: 'POST', url: '/api/verdict', headers: { host: '127.0.0.1:4242', cookie, ...headers } }, ctx);

describe('guard (pure)', () => {
  it('exchanges the URL token for an HttpOnly SameSite=Strict cookie and drops it from the URL', () => {
    const r = get(`/?token=${TOKEN}`);
    expect(r).toEqual({ kind: 'login', location: '/', setCookie: `${cookieName(4242)}=${TOKEN}; HttpOnly; SameSite=Strict; Path=/` });
  });

  it('passes with the cookie; refuses without a token, with a wrong one, or a wrong cookie', () => {
    expect(get('/api/state', { cookie })).toEqual({ kind: 'pass' });
    // With the cookie already set, a URL with the token still redirects (the token leaves the address bar); a wrong one is refused.
    expect(get(`/?token=${TOKEN}`, { cookie })).toMatchObject({ kind: 'login', location: '/' });
    // The redirect never goes anywhere but the page (no Location built from the request).
    for (const url of [`/.//evil.example/?token=${TOKEN}`, `//evil.example/?token=${TOKEN}`, `/api/state?x=1&token=${TOKEN}`]) {
      expect(get(url)).toMatchObject({ kind: 'login', location: '/' });
    }
    expect(get(`/?token=${'b'.repeat(43)}`, { cookie })).toMatchObject({ kind: 'refuse', status: 401 });
    expect(get('/')).toMatchObject({ kind: 'refuse', status: 401 });
    expect(messageOf(get('/'))).toMatch(/open the URL m87 ui printed/);
    expect(get(`/?token=${'b'.repeat(43)}`)).toMatchObject({ kind: 'refuse', status: 401 });
    expect(messageOf(get(`/?token=${'b'.repeat(43)}`))).toMatch(/wrong console token/);
    expect(get('/?token=short')).toMatchObject({ kind: 'refuse', status: 401 });
    expect(get('/', { cookie: `${cookieName(4242)}=${'b'.repeat(43)}` })).toMatchObject({ kind: 'refuse', status: 401 });
    // Another console's cookie (another port) is not this one's.
    expect(get('/', { cookie: `${cookieName(4243)}=${TOKEN}` })).toMatchObject({ kind: 'refuse', status: 401 });
  });

  it('refuses a Host that is not this server (DNS rebinding), even with the right token', () => {
    for (const host of ['evil.example:4242', '127.0.0.1:4243', 'localhost', '127.0.0.1.nip.io:4242', '']) {
      expect(guard({ method: 'GET', url: '/', headers: { host, cookie } }, ctx)).toMatchObject({ kind: 'refuse', status: 403 });
    }
    expect(guard({ method: 'GET', url: '/', headers: { cookie } }, ctx)).toMatchObject({ kind: 'refuse', status: 403 });
    for (const host of ['127.0.0.1:4242', 'localhost:4242', '[::1]:4242', 'LOCALHOST:4242']) {
      expect(guard({ method: 'GET', url: '/', headers: { host, cookie } }, ctx)).toEqual({ kind: 'pass' });
    }
  });

  it('refuses cross-origin requests and writes without an Origin, from another site, or not JSON (CSRF)', () => {
    expect(get('/api/state', { cookie, origin: 'http://evil.example' })).toMatchObject({ kind: 'refuse', status: 403 });
    expect(post({ 'content-type': 'application/json' })).toMatchObject({ kind: 'refuse', status: 403 });
    expect(messageOf(post({ 'content-type': 'application/json' }))).toMatch(/no Origin/);
    expect(post({ origin: 'http://evil.example', 'content-type': 'application/json' })).toMatchObject({ kind: 'refuse', status: 403 });
    expect(post({ origin: 'http://127.0.0.1:9999', 'content-type': 'application/json' })).toMatchObject({ kind: 'refuse', status: 403 });
    expect(post({ origin: 'null', 'content-type': 'application/json' })).toMatchObject({ kind: 'refuse', status: 403 });
    expect(post({ origin: 'http://127.0.0.1:4242', 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' })).toMatchObject({ kind: 'refuse', status: 403 });
    expect(post({ origin: 'http://127.0.0.1:4242', 'content-type': 'text/plain' })).toMatchObject({ kind: 'refuse', status: 415 });
    expect(post({ origin: 'http://127.0.0.1:4242', 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({ kind: 'refuse', status: 415 });
    expect(post({ origin: 'http://127.0.0.1:4242', 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' })).toEqual({ kind: 'pass' });
    // The token in a URL never authorizes a write.
    expect(guard({ method: 'POST', url: `/api/verdict?token=${TOKEN}`, headers: { host: '127.0.0.1:4242', origin: 'http://127.0.0.1:4242', 'content-type': 'application/json' } }, ctx)).toMatchObject({
      kind: 'refuse',
      status: 401,
    });
  });

  it('knows loopback', () => {
    expect(['127.0.0.1', '127.3.4.5', '::1', '[::1]', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com'].some(isLoopback)).toBe(false);
  });
});

describe('the console HTTP server', () => {
  let handle: ConsoleHandle;
  let base: string;
  let closedPort: number;
  let client: M87Client;

  beforeAll(async () => {
    // A port nothing listens on: the console's watches fail there, and the page says so.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${closedPort}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'unused' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'ns' }],
      currentContext: 'x',
    });
    client = new M87Client(kc);
    handle = await startConsole({ client, identity: { username: 'alice', groups: [] }, source: 'test', namespace: 'ns', host: '127.0.0.1', port: 0, retryMs: 60_000 });
    base = handle.origin;
  });
  afterAll(async () => {
    await handle.close();
  });

  it('prints a URL with a fresh random token on loopback', () => {
    expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    expect(handle.token).not.toBe(TOKEN);
  });

  it('token → cookie → page, with a strict CSP and no CORS', async () => {
    const noToken = await fetch(`${base}/`);
    expect(noToken.status).toBe(401);
    const login = await fetch(handle.url, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookieHeader = setCookie.split(';')[0]!;
    const page = await fetch(`${base}/`, { headers: { cookie: cookieHeader } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<main');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    const preflight = await fetch(`${base}/api/verdict`, { method: 'OPTIONS', headers: { cookie: cookieHeader, origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(403);
    for (const r of [page, preflight]) expect([...r.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    // The API server is unreachable: the state says so instead of pretending the cluster is empty.
    const state = (await (await fetch(`${base}/api/state`, { headers: { cookie: cookieHeader } })).json()) as { you: { username: string }; health: Record<string, string> };
    expect(state.you.username).toBe('alice');
    expect(Object.keys(state.health).sort()).toEqual(['Approval', 'Decision', 'Job', 'Proposal']);
  });

  it('refuses a rebinding Host and a cross-site write before touching the cluster', async () => {
    const cookieHeader = `${cookieName(new URL(base).port === '' ? 80 : Number(new URL(base).port))}=${handle.token}`;
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>, method = 'GET', path = '/api/state'): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(`${base}${path}`, { method, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(method === 'POST' ? '{}' : undefined);
      });
    expect(await status({ host: `attacker.example:${new URL(base).port}`, cookie: cookieHeader })).toBe(403);
    expect(await status({ cookie: cookieHeader, origin: 'http://attacker.example', 'content-type': 'application/json' }, 'POST', '/api/verdict')).toBe(403);
    expect(await status({ cookie: cookieHeader, 'content-type': 'application/json' }, 'POST', '/api/verdict')).toBe(403);
    expect(await status({ cookie: cookieHeader, origin: base, 'content-type': 'text/plain' }, 'POST', '/api/verdict')).toBe(415);
    // A well-formed write from the page gets past the guard and fails on its content (no cluster call is made for it).
    expect(await status({ cookie: cookieHeader, origin: base, 'content-type': 'application/json' }, 'POST', '/api/verdict')).toBe(400);
  });

  it('refuses to listen beyond loopback unless forced', async () => {
    await expect(startConsole({ client, identity: { username: 'a', groups: [] }, source: 't', namespace: 'ns', host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0: not a loopback address.*--allow-non-loopback/,
    );
  });
});
