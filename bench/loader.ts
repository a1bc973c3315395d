// The load generator, run as its own process (node bench/loader.ts <config.json>) so its CPU is not the
// controller's nor the watcher's. Creates N Proposals of the mix (bench/mix.ts) round-robin over the
// submitters, each with its own ServiceAccount token, either as fast as `concurrency` requests in flight
// allow (rate 0) or open-loop at a fixed rate (request i is due at start + i/rate, whether or not earlier
// ones have returned). Each proposal carries its first send time (SENT_AT_ANNOTATION), so the watcher
// measures latency with sub-millisecond resolution instead of creationTimestamp's whole seconds.
//
// It speaks HTTPS with one keep-alive agent of its own (node:https) rather than the runtime's client:
// the load generator should cost the machine as little as possible.
//
// stdout: JSON lines, {"type":"progress",...} every 250 ms and one {"type":"done",...} at the end.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { API_VERSION } from '../src/api/group.ts';
import { PROPOSALS } from '../src/controller/resources.ts';
import { resourcePath } from '../src/runtime/resource.ts';
import type { Submitter } from './cluster-setup.ts';
import { epochNow, KIND_ANNOTATION, kindOf, proposalSpec, SENT_AT_ANNOTATION } from './mix.ts';

export interface LoaderConfig {
  server: string;
  caPem: string;
  namespace: string;
  namePrefix: string;
  submitters: Submitter[];
  n: number;
  /** Proposals per second; 0 = as fast as possible. */
  rate: number;
  /** Requests in flight when rate is 0; the cap on requests in flight at a fixed rate is 8× this. */
  concurrency: number;
}

export interface LoaderProgress {
  type: 'progress';
  sent: number;
  created: number;
  errors: number;
}

export interface LoaderDone {
  type: 'done';
  created: number;
  errors: number;
  /** Retried requests (429, 5xx, connection errors); the send time stays the first attempt's. */
  retries: number;
  firstErrors: string[];
  /** Epoch ms of the first send and of the last successful response. */
  startedAt: number;
  finishedAt: number;
  /** Achieved creation rate (created / (finishedAt - startedAt)). */
  createRate: number;
  /** Fixed rate only: how late sends were against their schedule. */
  maxLagMs: number;
  lateOver50ms: number;
}

export type LoaderMessage = LoaderProgress | LoaderDone;

const MAX_ATTEMPTS = 6;

/** When request i is due at a fixed rate, in ms after the start. */
export function dueOffsetMs(index: number, rate: number): number {
  return (index * 1000) / rate;
}

interface HttpResult {
  status: number;
  body: string;
}

function post(agent: Agent, url: URL, token: string, body: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function run(cfg: LoaderConfig): Promise<LoaderDone> {
  if (cfg.submitters.length === 0) throw new Error('loader: no submitters');
  const maxInFlight = cfg.rate > 0 ? cfg.concurrency * 8 : cfg.concurrency;
  const agent = new Agent({ keepAlive: true, ca: cfg.caPem, maxSockets: maxInFlight });
  const url = new URL(resourcePath(PROPOSALS, { namespace: cfg.namespace }), cfg.server);
  let sent = 0;
  let created = 0;
  let errors = 0;
  let retries = 0;
  let lastOk = 0;
  const firstErrors: string[] = [];
  const emit = (m: LoaderMessage) => process.stdout.write(`${JSON.stringify(m)}\n`);
  const ticker = setInterval(() => emit({ type: 'progress', sent, created, errors }), 250);

  async function createOne(i: number): Promise<void> {
    const submitter = cfg.submitters[i % cfg.submitters.length] as Submitter;
    const kind = kindOf(i);
    const sentAt = epochNow();
    sent++;
    const body = JSON.stringify({
      apiVersion: API_VERSION,
      kind: 'Proposal',
      metadata: {
        name: `${cfg.namePrefix}-${String(i).padStart(5, '0')}`,
        namespace: cfg.namespace,
        annotations: { [SENT_AT_ANNOTATION]: sentAt.toFixed(3), [KIND_ANNOTATION]: kind },
      },
      spec: proposalSpec(kind, submitter.username, i),
    });
    for (let attempt = 1; ; attempt++) {
      let why: string;
      try {
        const res = await post(agent, url, submitter.token, body);
        if (res.status === 201 || res.status === 200) {
          created++;
          lastOk = epochNow();
          return;
        }
        why = `HTTP ${res.status}: ${res.body.slice(0, 300)}`;
        // 409: an earlier attempt did create it (its response was lost).
        if (res.status === 409 && attempt > 1) {
          created++;
          lastOk = epochNow();
          return;
        }
        if (res.status !== 429 && res.status < 500) attempt = MAX_ATTEMPTS;
      } catch (err) {
        why = (err as Error).message;
      }
      if (attempt >= MAX_ATTEMPTS) {
        errors++;
        if (firstErrors.length < 5) firstErrors.push(why);
        return;
      }
      retries++;
      await sleep(100 * 2 ** (attempt - 1));
    }
  }

  const startedAt = epochNow();
  let maxLagMs = 0;
  let lateOver50ms = 0;
  if (cfg.rate <= 0) {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(cfg.concurrency, cfg.n) }, async () => {
        while (next < cfg.n) await createOne(next++);
      }),
    );
  } else {
    const inFlight = new Set<Promise<void>>();
    const t0 = performance.now();
    for (let i = 0; i < cfg.n; i++) {
      const due = t0 + dueOffsetMs(i, cfg.rate);
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      const lag = performance.now() - due;
      if (lag > maxLagMs) maxLagMs = lag;
      if (lag > 50) lateOver50ms++;
      const p: Promise<void> = createOne(i).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }
  clearInterval(ticker);
  agent.destroy();
  const finishedAt = lastOk > 0 ? lastOk : epochNow();
  emit({ type: 'progress', sent, created, errors });
  return {
    type: 'done',
    created,
    errors,
    retries,
    firstErrors,
    startedAt,
    finishedAt,
    createRate: finishedAt > startedAt ? (created / (finishedAt - startedAt)) * 1000 : NaN,
    maxLagMs: Math.round(maxLagMs * 10) / 10,
    lateOver50ms,
  };
}

if (import.meta.main) {
  const path = process.argv[2];
  if (path === undefined) {
    process.stderr.write('usage: node bench/loader.ts <config.json>\n');
    process.exit(2);
  }
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as LoaderConfig;
  run(cfg).then(
    (done) => process.stdout.write(`${JSON.stringify(done)}\n`),
    (err: unknown) => {
      process.stderr.write(`loader: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
