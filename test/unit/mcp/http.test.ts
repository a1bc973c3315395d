// `m87 mcp --http` listens on loopback only unless forced, and wants a bearer token unless waived: whoever
// reaches the port acts as the agent.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentSession } from '../../../src/mcp/agent-session.ts';
import { isLoopback } from '../../../src/client/loopback.ts';
import { serveHttp, type HttpHandle } from '../../../src/mcp/http.ts';
import { bearerToken, loadOrCreateToken, MIN_TOKEN_LENGTH } from '../../../src/mcp/token.ts';

const dir = mkdtempSync(join(tmpdir(), 'm87-mcp-http-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const unusedSession = () =>
  new AgentSession({
    load: () => {
      throw new Error('not used');
    },
  });

describe('loopback only', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.1', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['example.org', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it('refuses a non-loopback address before listening, and says how to force it', async () => {
    await expect(serveHttp(unusedSession(), { host: '0.0.0.0', port: 0, token: 'x'.repeat(43) })).rejects.toThrow(/not a loopback address.*--allow-non-loopback/);
  });

  it('refuses a non-loopback address without a token even when forced', async () => {
    await expect(serveHttp(unusedSession(), { host: '0.0.0.0', port: 0, token: null, allowNonLoopback: true })).rejects.toThrow(/without a token.*--no-auth is for loopback only/);
  });
});

describe('bearer token', () => {
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } } };
  const post = (url: string, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(initialize) });
  let handle: HttpHandle | undefined;
  afterAll(() => handle?.close());

  it('refuses a request without the token, or with another, before reading it; answers the one with it', async () => {
    const token = loadOrCreateToken(join(dir, 'server.token')).token;
    handle = await serveHttp(unusedSession(), { host: '127.0.0.1', port: 0, token });
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${token.slice(1)}x` }, { authorization: `Basic ${token}` }, { authorization: token }]) {
      const refused = await post(handle.url, headers);
      expect(refused.status, JSON.stringify(headers)).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="m87 mcp"');
      expect(await refused.text()).toContain('Authorization: Bearer');
    }
    const answered = await post(handle.url, { authorization: `Bearer ${token}` });
    expect(answered.status).toBe(200);
    expect(await answered.text()).toContain('"serverInfo"');
  });

  it('--no-auth (token null) answers without one', async () => {
    const open = await serveHttp(unusedSession(), { host: '127.0.0.1', port: 0, token: null });
    try {
      expect((await post(open.url, {})).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('reads the header: scheme case-insensitive, one token, nothing else', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken(['Bearer abc', 'Bearer def'])).toBe('abc');
    expect(bearerToken('Bearer abc def')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('token file', () => {
  it('is created with a fresh token, readable by its owner only, and read back the same next time', () => {
    const path = join(dir, 'fresh.token');
    const first = loadOrCreateToken(path);
    expect(first.created).toBe(true);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(`${first.token}\n`);
    expect(loadOrCreateToken(path)).toEqual({ token: first.token, created: false });
    expect(loadOrCreateToken(join(dir, 'other.token')).token).not.toBe(first.token);
  });

  it('refuses a short or malformed token, a file others may read, and a path it cannot create, naming the file', () => {
    const write = (name: string, text: string, mode = 0o600) => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode });
      chmodSync(path, mode);
      return path;
    };
    const short = write('short.token', 'x'.repeat(MIN_TOKEN_LENGTH - 1));
    expect(() => loadOrCreateToken(short)).toThrow(new RegExp(`--token-file ${short}: want one token of at least 32`));
    const empty = write('empty.token', '\n');
    expect(() => loadOrCreateToken(empty)).toThrow(/found 0 characters/);
    const spaced = write('spaced.token', `${'a'.repeat(20)} ${'b'.repeat(20)}`);
    expect(() => loadOrCreateToken(spaced)).toThrow(/with others/);
    const shared = write('shared.token', 'a'.repeat(40), 0o644);
    expect(() => loadOrCreateToken(shared)).toThrow(new RegExp(`--token-file ${shared}: group or others may read it`));
    expect(loadOrCreateToken(write('kept.token', `${'a'.repeat(40)}\n`)).token).toBe('a'.repeat(40));
    expect(() => loadOrCreateToken(join(dir, 'missing-dir', 'x.token'))).toThrow(/--token-file .*missing-dir\/x\.token: cannot create it/);
  });
});

describe('m87 mcp flags', () => {
  const MAIN = join(import.meta.dirname, '../../../src/cli/main.ts');
  const m87 = (args: string[]) => spawnSync(process.execPath, [MAIN, 'mcp', ...args], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/nonexistent' } });

  it('--http without --token-file or --no-auth, both, or either without --http: usage error (exit 2), nothing served', () => {
    for (const args of [['--http'], ['--http', '--token-file', join(dir, 'a.token'), '--no-auth'], ['--no-auth'], ['--token-file', join(dir, 'b.token')]]) {
      const r = m87(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/--token-file|--no-auth/);
      expect(r.stderr).not.toContain('serving');
    }
  });
});
