import { createHash } from 'node:crypto';
import { createServer as createHttpServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BudgetTracker } from '../../../src/runner/budget.ts';
import { EgressGate, GATE_HEADER, isForbiddenAddress, type EgressLease } from '../../../src/runner/egress-gate.ts';
import { OutputCapture } from '../../../src/runner/output.ts';
import { runProcess } from '../../../src/runner/process.ts';
import { boundStep, envelope, fixture, type Fixture } from './fixture.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Upstream {
  port: number;
  hits: { method: string; url: string; body: string; headers: IncomingHttpHeaders }[];
}

/** A loopback HTTP server standing in for an external service. */
async function upstream(body = 'payload from upstream'): Promise<Upstream> {
  const hits: Upstream['hits'] = [];
  const srv: Server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString(), headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
  srv.unref();
  const addr = srv.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return { port: addr.port, hits };
}

async function gate(allow: { host: string; port: number }[], maxExternalIO = 10, extra: Partial<Parameters<typeof EgressGate.start>[0]> = {}) {
  const tracker = new BudgetTracker(
    { maxSteps: 10, maxToolCalls: 10, maxParallelAgents: 1, maxRuntimeSeconds: 600, maxExternalIO, maxWriteScope: 'none' },
    () => performance.now(),
  );
  const g = await EgressGate.start({ allow, takeExternalIO: () => tracker.tryExternalIO(), ...extra });
  cleanups.push(() => g.close());
  return { gate: g, tracker };
}

function viaProxy(lease: EgressLease | undefined, gatePort: number, url: string, auth?: string): Promise<{ status: number; code: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: URL.canParse(url) ? new URL(url).host : 'localhost' };
    const authorization = auth ?? lease?.authorization;
    if (authorization !== undefined) headers['proxy-authorization'] = authorization;
    const req = request({ host: '127.0.0.1', port: gatePort, method: 'GET', path: url, headers, agent: false });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.headers[GATE_HEADER] as string | undefined, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connectVia(lease: EgressLease, gatePort: number, authority: string): Promise<{ status: number; code: string | undefined; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: gatePort,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, 'proxy-authorization': lease.authorization },
      agent: false,
    });
    req.on('connect', (res, socket) => resolve({ status: res.statusCode ?? 0, code: res.headers[GATE_HEADER] as string | undefined, socket }));
    req.on('error', reject);
    req.end();
  });
}

describe('egress gate', () => {
  it('forwards an allowlisted request and counts it; refuses a non-allowlisted one with 403 without contacting it', async () => {
    const allowed = await upstream();
    const other = await upstream();
    const { gate: g, tracker } = await gate([{ host: '127.0.0.1', port: allowed.port }]);
    const lease = g.lease();
    const ok = await viaProxy(lease, g.port, `http://127.0.0.1:${allowed.port}/data?x=1`);
    expect(ok).toMatchObject({ status: 200, body: 'payload from upstream', code: undefined });
    expect(allowed.hits).toHaveLength(1);
    expect(allowed.hits[0]!.url).toBe('/data?x=1');
    expect(allowed.hits[0]!.headers['proxy-authorization']).toBeUndefined();
    const no = await viaProxy(lease, g.port, `http://127.0.0.1:${other.port}/`);
    expect(no).toMatchObject({ status: 403, code: 'EGRESS_HOST_NOT_ALLOWED' });
    expect(other.hits).toHaveLength(0);
    expect(tracker.usage().externalIO).toBe(1);
    expect(g.stats).toEqual({ allowed: 1, refused: 1 });
    expect(g.records).toEqual([
      { method: 'GET', host: '127.0.0.1', port: allowed.port, allowed: true },
      { method: 'GET', host: '127.0.0.1', port: other.port, allowed: false, code: 'EGRESS_HOST_NOT_ALLOWED' },
    ]);
  });

  it('enforces maxExternalIO: the request beyond it is refused and never reaches upstream', async () => {
    const up = await upstream();
    const { gate: g, tracker } = await gate([{ host: '127.0.0.1', port: up.port }], 2);
    const lease = g.lease();
    const url = `http://127.0.0.1:${up.port}/`;
    expect((await viaProxy(lease, g.port, url)).status).toBe(200);
    expect((await viaProxy(lease, g.port, url)).status).toBe(200);
    expect(await viaProxy(lease, g.port, url)).toMatchObject({ status: 403, code: 'BUDGET_EXTERNAL_IO_EXCEEDED' });
    expect(up.hits).toHaveLength(2);
    expect(tracker.usage().externalIO).toBe(2);
  });

  it('needs a live lease: no token or a released one → 407', async () => {
    const up = await upstream();
    const { gate: g } = await gate([{ host: '127.0.0.1', port: up.port }]);
    const url = `http://127.0.0.1:${up.port}/`;
    expect(await viaProxy(undefined, g.port, url)).toMatchObject({ status: 407, code: 'EGRESS_PROXY_AUTH_REQUIRED' });
    expect(await viaProxy(undefined, g.port, url, 'Basic ' + Buffer.from('m87:guess').toString('base64'))).toMatchObject({ status: 407 });
    const lease = g.lease();
    lease.release();
    expect(await viaProxy(lease, g.port, url)).toMatchObject({ status: 407 });
    expect(up.hits).toHaveLength(0);
  });

  it('refuses origin-form requests (the gate is not a web server)', async () => {
    const { gate: g } = await gate([]);
    const lease = g.lease();
    expect(await viaProxy(lease, g.port, '/relative')).toMatchObject({ status: 400, code: 'EGRESS_BAD_REQUEST' });
  });

  it('never contacts forbidden addresses even when allowlisted (metadata, the API server)', async () => {
    const api = await upstream();
    const { gate: g, tracker } = await gate(
      [
        { host: '169.254.169.254', port: 80 },
        { host: '127.0.0.1', port: api.port },
      ],
      10,
      { forbidden: [{ host: '127.0.0.1', port: api.port }] },
    );
    const lease = g.lease();
    expect(await viaProxy(lease, g.port, 'http://169.254.169.254/latest/meta-data')).toMatchObject({ status: 403, code: 'EGRESS_ADDRESS_FORBIDDEN' });
    expect(await viaProxy(lease, g.port, `http://127.0.0.1:${api.port}/api`)).toMatchObject({ status: 403, code: 'EGRESS_ADDRESS_FORBIDDEN' });
    expect(api.hits).toHaveLength(0);
    expect(tracker.usage().externalIO).toBe(0);
    expect(isForbiddenAddress('169.254.169.254')).toBe(true);
    expect(isForbiddenAddress('::ffff:169.254.169.254')).toBe(true);
    expect(isForbiddenAddress('fe80::1')).toBe(true);
    expect(isForbiddenAddress('0.0.0.0')).toBe(true);
    expect(isForbiddenAddress('127.0.0.1')).toBe(false);
    expect(isForbiddenAddress('::1')).toBe(false);
  });

  it('resolves allowlisted names with the configured resolver and connects to that address', async () => {
    const up = await upstream();
    const asked: string[] = [];
    const { gate: g } = await gate([{ host: 'hooks.example.test', port: up.port }], 10, {
      resolve: (h) => {
        asked.push(h);
        return Promise.resolve(['127.0.0.1']);
      },
    });
    const r = await viaProxy(g.lease(), g.port, `http://hooks.example.test:${up.port}/hook`);
    expect(r.status).toBe(200);
    expect(asked).toEqual(['hooks.example.test']);
    expect(up.hits[0]!.headers.host).toBe(`hooks.example.test:${up.port}`);
  });

  it('tunnels CONNECT to an allowlisted host:port and refuses others', async () => {
    const echoSrv = createTcpServer((s) => s.pipe(s));
    await new Promise<void>((r) => echoSrv.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => echoSrv.close(() => r())));
    const echoPort = (echoSrv.address() as { port: number }).port;
    const { gate: g, tracker } = await gate([{ host: '127.0.0.1', port: echoPort }]);
    const lease = g.lease();
    const t = await connectVia(lease, g.port, `127.0.0.1:${echoPort}`);
    expect(t.status).toBe(200);
    const echoed = await new Promise<string>((resolve) => {
      t.socket.once('data', (d: Buffer) => resolve(d.toString()));
      t.socket.write('ping');
    });
    t.socket.destroy();
    expect(echoed).toBe('ping');
    const other = await connectVia(lease, g.port, `127.0.0.1:${echoPort + 1 > 65535 ? 1 : echoPort + 1}`);
    expect(other).toMatchObject({ status: 403, code: 'EGRESS_HOST_NOT_ALLOWED' });
    other.socket.destroy();
    expect(tracker.usage().externalIO).toBe(1);
  });

  it('a child process reaches an allowlisted server through HTTP_PROXY (credentials in the proxy URL)', async () => {
    const up = await upstream('from child');
    const { gate: g } = await gate([{ host: '127.0.0.1', port: up.port }]);
    const lease = g.lease();
    const script = `
      const http = require('node:http');
      const p = new URL(process.env.HTTP_PROXY);
      const auth = 'Basic ' + Buffer.from(decodeURIComponent(p.username) + ':' + decodeURIComponent(p.password)).toString('base64');
      const target = process.argv[1];
      http.request({ host: p.hostname, port: p.port, path: target, headers: { host: new URL(target).host, 'proxy-authorization': auth } }, (res) => {
        res.pipe(process.stdout);
      }).end();`;
    const output = new OutputCapture();
    const r = await runProcess({
      argv: [process.execPath, '-e', script, `http://127.0.0.1:${up.port}/child`],
      cwd: '/',
      env: { PATH: process.env.PATH ?? '', HTTP_PROXY: lease.proxyUrl },
      timeoutMs: 10_000,
      output,
    });
    expect(r.exitCode).toBe(0);
    expect(output.bytes().toString()).toBe('from child');
    expect(up.hits.map((h) => h.url)).toEqual(['/child']);
  });

});

describe('runner network tools through the gate', () => {
  const open: Fixture[] = [];
  afterEach(() => {
    for (const f of open.splice(0)) f.cleanup();
  });

  it('http-get (curl) reaches an allowlisted loopback server through the gate; the output is hashed; the request is counted', async () => {
    const up = await upstream('{"ok":true}');
    const f = await fixture(
      envelope({ steps: [boundStep('http-get', { url: `http://127.0.0.1:${up.port}/status` })], egress: [{ host: '127.0.0.1', port: up.port }], effects: ['NETWORK_CALL'] }),
    );
    open.push(f);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Succeeded', reasonCode: '' });
    expect(outcome.receipt.usage.externalIO).toBe(1);
    const sha = createHash('sha256').update('{"ok":true}').digest('hex');
    expect(outcome.receipt.steps).toEqual([{ tool: 'http-get', exitCode: 0, outputHash: sha }]);
    expect(up.hits.map((h) => `${h.method} ${h.url}`)).toEqual(['GET /status']);
    expect(outcome.records[0]).toMatchObject({ status: 'Succeeded', externalIO: 1 });
  });

  it('notify POSTs the message as text/plain', async () => {
    const up = await upstream('thanks');
    const f = await fixture(
      envelope({
        steps: [boundStep('notify', { url: `http://127.0.0.1:${up.port}/hook`, message: '-tests passed' })],
        egress: [{ host: '127.0.0.1', port: up.port }],
      }),
    );
    open.push(f);
    const outcome = await f.run();
    expect(outcome.receipt.status).toBe('Succeeded');
    expect(up.hits).toHaveLength(1);
    expect(up.hits[0]!.method).toBe('POST');
    expect(up.hits[0]!.headers['content-type']).toBe('text/plain; charset=utf-8');
    // A leading dash is data for --data-raw, never an option.
    expect(up.hits[0]!.body).toBe('-tests passed');
  });

  it('http-get to a loopback server outside the allowlist is refused before the tool runs', async () => {
    const allowed = await upstream();
    const other = await upstream();
    const f = await fixture(
      envelope({
        steps: [boundStep('http-get', { url: `http://127.0.0.1:${other.port}/` }), boundStep('http-get', { url: `http://127.0.0.1:${allowed.port}/` })],
        egress: [{ host: '127.0.0.1', port: allowed.port }],
      }),
    );
    open.push(f);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'EGRESS_HOST_NOT_ALLOWED', steps: [{ tool: 'http-get', exitCode: -1 }] });
    expect(outcome.receipt.usage.steps).toBe(0);
    expect(outcome.records.map((r) => r?.status)).toEqual(['Refused', 'Skipped']);
    expect(allowed.hits).toHaveLength(0);
    expect(other.hits).toHaveLength(0);
  });

  it('maxExternalIO 0: the gate refuses the request, the server is never contacted, the gate reason is reported', async () => {
    const up = await upstream();
    const f = await fixture(
      envelope({
        steps: [boundStep('http-get', { url: `http://127.0.0.1:${up.port}/` })],
        egress: [{ host: '127.0.0.1', port: up.port }],
        autonomyBudget: { maxExternalIO: 0 },
      }),
    );
    open.push(f);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_EXTERNAL_IO_EXCEEDED' });
    expect(outcome.receipt.steps).toHaveLength(1);
    expect(outcome.receipt.usage.externalIO).toBe(0);
    expect(up.hits).toHaveLength(0);
  });

  it('maxExternalIO 1 with two requests: the second is refused by the gate', async () => {
    const up = await upstream();
    const url = `http://127.0.0.1:${up.port}/`;
    const f = await fixture(
      envelope({
        steps: [boundStep('http-get', { url }), boundStep('http-get', { url })],
        egress: [{ host: '127.0.0.1', port: up.port }],
        autonomyBudget: { maxExternalIO: 1 },
      }),
    );
    open.push(f);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_EXTERNAL_IO_EXCEEDED' });
    expect(outcome.receipt.steps.map((s) => s.exitCode === 0)).toEqual([true, false]);
    expect(outcome.receipt.usage.externalIO).toBe(1);
    expect(up.hits).toHaveLength(1);
  });

  it('a gate-refused https CONNECT is reported with the gate reason too', async () => {
    const up = await upstream();
    const f = await fixture(
      envelope({
        steps: [boundStep('http-get', { url: `https://127.0.0.1:${up.port}/` })],
        egress: [{ host: '127.0.0.1', port: up.port }],
        autonomyBudget: { maxExternalIO: 0 },
      }),
    );
    open.push(f);
    const outcome = await f.run();
    expect(outcome.receipt).toMatchObject({ status: 'Refused', reasonCode: 'BUDGET_EXTERNAL_IO_EXCEEDED' });
    expect(up.hits).toHaveLength(0);
  });
});
