import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerStop } from '../../../src/runner/codes.ts';
import { checkApiServerUnreachable, checkIsolation, checkNonRoot, checkRootReadOnly, checkServiceAccountToken } from '../../../src/runner/isolation.ts';
import { fixture, passingIsolation, type Fixture } from './fixture.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'm87-isolation-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function listeningServer(): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const srv: Server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  const addr = srv.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { port: addr.port, connections: () => n };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof RunnerStop ? e.code : `not a RunnerStop: ${String(e)}`;
  }
  return undefined;
}

async function asyncCodeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof RunnerStop ? e.code : `not a RunnerStop: ${String(e)}`;
  }
  return undefined;
}

describe('isolation self-checks', () => {
  it('the fake environment used by the other tests passes', async () => {
    const d = tempDir();
    await expect(checkIsolation(await passingIsolation(d))).resolves.toBeUndefined();
  });

  it('a mounted ServiceAccount token → ISOLATION_SA_TOKEN_MOUNTED', () => {
    const d = tempDir();
    const token = join(d, 'serviceaccount', 'token');
    expect(codeOf(() => checkServiceAccountToken(token))).toBeUndefined();
    mkdirSync(join(d, 'serviceaccount'));
    writeFileSync(token, 'eyJhbGciOi...');
    expect(codeOf(() => checkServiceAccountToken(token))).toBe('ISOLATION_SA_TOKEN_MOUNTED');
  });

  it('uid 0 → ISOLATION_RUNNING_AS_ROOT; an unknown uid is not accepted', () => {
    expect(codeOf(() => checkNonRoot(() => 65532))).toBeUndefined();
    expect(codeOf(() => checkNonRoot(() => 0))).toBe('ISOLATION_RUNNING_AS_ROOT');
    expect(codeOf(() => checkNonRoot(() => Number.NaN))).toBe('ISOLATION_CHECK_FAILED');
    expect(
      codeOf(() =>
        checkNonRoot(() => {
          throw new Error('no getuid');
        }),
      ),
    ).toBe('ISOLATION_CHECK_FAILED');
  });

  it('a writable root filesystem → ISOLATION_ROOT_WRITABLE, and the probe file is removed', () => {
    const d = tempDir();
    expect(codeOf(() => checkRootReadOnly(d))).toBe('ISOLATION_ROOT_WRITABLE');
    expect(readdirSync(d)).toEqual([]);
    expect(codeOf(() => checkRootReadOnly(join(d, 'missing')))).toBeUndefined();
  });

  it('an API server that accepts a TCP connection → ISOLATION_API_SERVER_REACHABLE', async () => {
    const srv = await listeningServer();
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', String(srv.port), 2000))).toBe('ISOLATION_API_SERVER_REACHABLE');
    expect(srv.connections()).toBeLessThanOrEqual(1);
  });

  it('unset or bogus KUBERNETES_SERVICE_HOST/PORT → ISOLATION_API_SERVER_UNKNOWN (unknown is not safe)', async () => {
    expect(await asyncCodeOf(checkApiServerUnreachable(undefined, '443', 100))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', undefined, 100))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('', '', 100))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', 'https', 100))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', '70000', 100))).toBe('ISOLATION_API_SERVER_UNKNOWN');
  });
});

describe('the runner refuses a job when isolation is missing, before any step', () => {
  const cases: [string, (f: Fixture) => Promise<void> | void, string][] = [
    [
      'token mounted',
      (f) => {
        const t = join(f.dir, 'sa', 'token');
        mkdirSync(join(f.dir, 'sa'));
        writeFileSync(t, 'token');
        f.renv.isolation.serviceAccountTokenPath = t;
      },
      'ISOLATION_SA_TOKEN_MOUNTED',
    ],
    ['running as root', (f) => void (f.renv.isolation.getuid = () => 0), 'ISOLATION_RUNNING_AS_ROOT'],
    ['writable root', (f) => void (f.renv.isolation.rootDir = f.dir), 'ISOLATION_ROOT_WRITABLE'],
    [
      'API server reachable',
      async (f) => {
        const srv = await listeningServer();
        f.renv.isolation.apiServerPort = String(srv.port);
      },
      'ISOLATION_API_SERVER_REACHABLE',
    ],
    ['API server address unknown', (f) => void (f.renv.isolation.apiServerHost = undefined), 'ISOLATION_API_SERVER_UNKNOWN'],
  ];
  it.each(cases)('%s', async (_name, breakIt, code) => {
    const f = await fixture();
    cleanups.push(() => f.cleanup());
    await breakIt(f);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: code, steps: [], artifacts: [] });
    // Verification passed (the envelope is authentic); the Pod is what is wrong.
    expect(outcome.receipt.deh.verified).toBe(true);
    expect(outcome.exitCode).not.toBe(0);
    expect(readdirSync(f.workspace).filter((n) => n !== 'sa')).toEqual([]);
  });
});
