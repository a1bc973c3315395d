import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerStop } from '../../../src/runner/codes.ts';
import { checkApiServerUnreachable, checkIsolation, checkNonRoot, checkRootReadOnly, checkServiceAccountToken, classifyConnectError, probeApiServer, type ApiServerProbe } from '../../../src/runner/isolation.ts';
import { closedPort, fixture, passingIsolation, type Fixture } from './fixture.ts';

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
    // A closed loopback port answers like kube-router's REJECT: refused, so blocked.
    expect(await checkIsolation(await passingIsolation(d))).toMatchObject({ apiServer: { result: 'blocked', cause: 'ECONNREFUSED', attempts: 1 } });
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

  it('one probe with a real socket: a listening port is reachable, a closed one refused (blocked)', async () => {
    const srv = await listeningServer();
    expect(await probeApiServer('127.0.0.1', srv.port, 2000)).toEqual({ result: 'reachable', cause: 'connected' });
    expect(await probeApiServer('127.0.0.1', await closedPort(), 2000)).toEqual({ result: 'blocked', cause: 'ECONNREFUSED' });
  });

  it('errors a loopback socket cannot produce: no route is addressing, a timeout is blocked, anything else unknown', () => {
    expect(classifyConnectError('EHOSTUNREACH')).toEqual({ result: 'no-route', cause: 'EHOSTUNREACH' });
    expect(classifyConnectError('ENETUNREACH')).toEqual({ result: 'no-route', cause: 'ENETUNREACH' });
    expect(classifyConnectError('ETIMEDOUT')).toEqual({ result: 'blocked', cause: 'timeout' });
    expect(classifyConnectError('ECONNRESET')).toEqual({ result: 'unknown', cause: 'ECONNRESET' });
    expect(classifyConnectError('EADDRNOTAVAIL').result).toBe('unknown');
    expect(classifyConnectError(undefined).result).toBe('unknown');
  });

  it('an API server that stays reachable through the window → ISOLATION_API_SERVER_REACHABLE, after retrying (real sockets)', async () => {
    const srv = await listeningServer();
    const t0 = performance.now();
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', String(srv.port), { timeoutMs: 2000, windowMs: 400, intervalMs: 50 }))).toBe('ISOLATION_API_SERVER_REACHABLE');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390);
    expect(srv.connections()).toBeGreaterThan(3); // probed again and again, not refused at the first success
  });

  it('an API server that becomes unreachable within the window (the policy arriving late) → blocked, with the attempts recorded (real sockets)', async () => {
    const srv = createServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    // The "policy" arrives after 300 ms: the port closes, and connects are refused from then on.
    const closing = new Promise<void>((r) => setTimeout(() => srv.close(() => r()), 300));
    const check = await checkApiServerUnreachable('127.0.0.1', String(port), { timeoutMs: 1000, windowMs: 5000, intervalMs: 50 });
    await closing;
    expect(check).toMatchObject({ result: 'blocked', cause: 'ECONNREFUSED' });
    expect(check.attempts).toBeGreaterThan(2);
    expect(check.waitedMs).toBeGreaterThanOrEqual(250);
    expect(check.waitedMs).toBeLessThan(5000);
  });

  it('the retry window on an injected clock: every interval up to the window, then refused; no-route runs; unknown refuses at once', async () => {
    let now = 0;
    const sleeps: number[] = [];
    const clock = {
      now: () => now,
      sleep: (ms: number) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    };
    const answers = (...seq: ApiServerProbe[]) => {
      let i = 0;
      return () => Promise.resolve(seq[Math.min(i++, seq.length - 1)]!);
    };
    const reachable: ApiServerProbe = { result: 'reachable', cause: 'connected' };
    expect(await asyncCodeOf(checkApiServerUnreachable('10.0.0.1', '443', { timeoutMs: 1000, windowMs: 15_000, intervalMs: 200, clock, probe: answers(reachable) }))).toBe(
      'ISOLATION_API_SERVER_REACHABLE',
    );
    expect(now).toBe(15_000);
    expect(sleeps.length).toBe(75);
    expect(sleeps.every((ms) => ms === 200)).toBe(true);

    now = 0;
    sleeps.length = 0;
    const late = await checkApiServerUnreachable('10.0.0.1', '443', { timeoutMs: 1000, windowMs: 15_000, intervalMs: 200, clock, probe: answers(reachable, reachable, { result: 'blocked', cause: 'ECONNREFUSED' }) });
    expect(late).toEqual({ result: 'blocked', cause: 'ECONNREFUSED', attempts: 3, waitedMs: 400 });

    now = 0;
    expect(await checkApiServerUnreachable('10.0.0.1', '443', { timeoutMs: 1000, clock, probe: answers({ result: 'no-route', cause: 'EHOSTUNREACH' }) })).toEqual({
      result: 'no-route',
      cause: 'EHOSTUNREACH',
      attempts: 1,
      waitedMs: 0,
    });
    expect(await asyncCodeOf(checkApiServerUnreachable('10.0.0.1', '443', { timeoutMs: 1000, clock, probe: answers({ result: 'unknown', cause: 'ECONNRESET' }) }))).toBe('ISOLATION_CHECK_FAILED');
    const throwing = (): Promise<ApiServerProbe> => Promise.reject(new Error('socket: boom'));
    expect(await asyncCodeOf(checkApiServerUnreachable('10.0.0.1', '443', { timeoutMs: 1000, clock, probe: throwing }))).toBe('ISOLATION_CHECK_FAILED');
  });

  it('unset or bogus KUBERNETES_SERVICE_HOST/PORT → ISOLATION_API_SERVER_UNKNOWN (unknown is not safe)', async () => {
    const o = { timeoutMs: 100 };
    expect(await asyncCodeOf(checkApiServerUnreachable(undefined, '443', o))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', undefined, o))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('', '', o))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', 'https', o))).toBe('ISOLATION_API_SERVER_UNKNOWN');
    expect(await asyncCodeOf(checkApiServerUnreachable('127.0.0.1', '70000', o))).toBe('ISOLATION_API_SERVER_UNKNOWN');
  });
});

describe('the receipt records the API-server check', () => {
  it('a job that ran: isolation.apiServer says blocked, refused by the closed port', async () => {
    const f = await fixture();
    cleanups.push(() => f.cleanup());
    const outcome = await f.run();
    expect(outcome.receipt.status).toBe('Succeeded');
    // One check per container: the envelope's one step container and the final container.
    expect(outcome.records).toHaveLength(1);
    expect(outcome.receipt.isolation).toMatchObject({ apiServer: { result: 'blocked', cause: 'ECONNREFUSED', checks: 2, attempts: 1 } });
  });

  it('a Pod without a route to the API server runs, and the receipt says no-route', async () => {
    const f = await fixture();
    cleanups.push(() => f.cleanup());
    f.renv.isolation.probe = () => Promise.resolve({ result: 'no-route', cause: 'ENETUNREACH' });
    const outcome = await f.run();
    expect(outcome.receipt.status).toBe('Succeeded');
    expect(outcome.receipt.isolation?.apiServer).toMatchObject({ result: 'no-route', cause: 'ENETUNREACH' });
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
        f.renv.isolation.apiReachableWindowMs = 300;
        f.renv.isolation.apiRetryIntervalMs = 50;
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
