// `m87 ui`: the approvers' web console. A small HTTP server on loopback that serves one framework-free page
// and a JSON API, acting only with the approver's own client (their kubeconfig credentials): RBAC and
// admission see the human, and the console holds no other credentials. Live updates go from the server's
// watches to the page as server-sent events. Every request passes guard() (token, Host, Origin) first.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { isClientError, M87ClientError, recordVerdict, reviewForApproval, type Identity, type M87Client } from '../client/index.ts';
import { LiveModel, type WatchedKind } from './live.ts';
import { allowedHosts, guard, hostPort, isLoopback, newToken, SECURITY_HEADERS } from './security.ts';
import { isExpired, proposalView, type ProposalView } from './views.ts';

// node:http through process.getBuiltinModule, not an ES import: importing it as an ES module reads every
// export, and its lazy WebSocket/MessageEvent/CloseEvent getters load Node's bundled undici (+13 MiB RSS).
const { createServer } = process.getBuiltinModule('node:http');

/** Decided proposals the page lists at most (newest first); pending ones are always all listed. */
export const HISTORY_LIMIT = 200;
const MAX_BODY_BYTES = 16 * 1024;
const KEEPALIVE_MS = 15_000;

/**
 * Where the produced artifacts of a Job (e.g. the patch a run wrote) can be read. The API has no artifacts
 * endpoint yet: the receipt carries each artifact's path and digest only. When one exists, implement this
 * and pass it to startConsole; the page then offers the content next to the receipt's digest.
 */
export interface ArtifactSource {
  read(namespace: string, job: string, path: string): Promise<{ content: string; sha256: string } | undefined>;
}

export interface ConsoleOptions {
  client: M87Client;
  /** Who the credentials are (SelfSubjectReview), shown in the page. */
  identity: Identity;
  /** Where the credentials came from, shown in the page (never the credentials). */
  source: string;
  /** One namespace, or undefined for all the credentials may list. */
  namespace: string | undefined;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Listen beyond loopback anyway (then anyone who reaches the port and has the token acts as you). */
  allowNonLoopback?: boolean;
  artifacts?: ArtifactSource;
  /** A fixed token (tests); default a random one per start. */
  token?: string;
  log?: (line: string) => void;
  /** Pause before the watches list again after a failure (default 2 s). */
  retryMs?: number;
  /** The clock verdicts are checked against (expiry). */
  now?: () => number;
}

export interface ConsoleHandle {
  /** The URL to open, with the token (print it; it is the key to the console). */
  url: string;
  origin: string;
  token: string;
  model: LiveModel;
  close(): Promise<void>;
}

const STATIC_DIR = new URL('./static/', import.meta.url);
const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};

export const VerdictRequest = z.strictObject({
  namespace: z.string().min(1).max(63),
  name: z.string().min(1).max(253),
  verdict: z.enum(['Approve', 'Reject']),
  /** What the approver reviewed: a verdict is recorded only if the proposal is still exactly this. */
  proposalUID: z.string().min(1).max(64),
  proposalHash: z.string().regex(/^[0-9a-f]{64}$/),
  comment: z.string().max(2048).optional(),
  challengeResponse: z.string().max(256).optional(),
});
export type VerdictRequest = z.infer<typeof VerdictRequest>;

const STATUS_OF_REASON: Readonly<Record<string, number>> = {
  NoCredentials: 401,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  TooLarge: 413,
  InvalidResponse: 502,
  Expired: 409,
  Unavailable: 502,
};

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...extra }).end(text);
}

function fail(res: ServerResponse, status: number, reason: string, message: string): void {
  send(res, status, { error: { reason, message } });
}

const NOT_JSON = Symbol('not JSON');

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new M87ClientError('TooLarge', `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return NOT_JSON;
  }
}

export async function startConsole(opts: ConsoleOptions): Promise<ConsoleHandle> {
  if (!isLoopback(opts.host) && opts.allowNonLoopback !== true) {
    throw new Error(
      `refusing to listen on ${opts.host}: not a loopback address, and whoever reaches the port with the token acts with your credentials (pass --allow-non-loopback to force)`,
    );
  }
  const log = opts.log ?? (() => undefined);
  const now = opts.now ?? Date.now;
  const token = opts.token ?? newToken();
  const files = new Map(Object.entries(STATIC_FILES).map(([path, f]) => [path, { body: readFileSync(new URL(f.file, STATIC_DIR)), type: f.type }]));
  const { client, namespace } = opts;

  // Whether the credentials hold the approve verb here: the page says so up front (the server still asks per verdict).
  let canApprove: boolean | undefined;
  try {
    canApprove = await client.canI('approve', 'Proposal', { namespace });
  } catch {
    canApprove = undefined;
  }

  const streams = new Set<ServerResponse>();
  const health = new Map<WatchedKind, string>();
  const pendingKeys = new Set<string>();
  let flushTimer: NodeJS.Timeout | undefined;

  const viewOf = (key: string): ProposalView | undefined => {
    const proposal = model.proposals.get(key);
    if (proposal === undefined) return undefined;
    const [ns = '', name = ''] = key.split('/');
    return proposalView(proposal, model.decisions.get(key), model.jobs.get(key), model.approvalsOf(ns, name), now());
  };
  const snapshot = () => {
    const views = [...model.proposals.keys()].map(viewOf).filter((v) => v !== undefined);
    const pending = views.filter((v) => v.pending);
    const history = views
      .filter((v) => !v.pending)
      .sort((a, b) => (b.decision?.decidedAt ?? b.createdAt ?? '').localeCompare(a.decision?.decidedAt ?? a.createdAt ?? ''))
      .slice(0, HISTORY_LIMIT);
    return {
      you: { username: opts.identity.username, groups: opts.identity.groups },
      source: opts.source,
      namespace: namespace ?? null,
      canApprove: canApprove ?? null,
      artifacts: opts.artifacts !== undefined,
      health: Object.fromEntries(health),
      proposals: [...pending, ...history],
    };
  };
  const broadcast = (event: string, data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(frame);
  };
  const flush = (): void => {
    flushTimer = undefined;
    for (const key of pendingKeys) {
      const view = viewOf(key);
      broadcast(view === undefined ? 'removed' : 'proposal', view ?? { key });
    }
    pendingKeys.clear();
  };

  const model = new LiveModel({
    client,
    namespace,
    ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
    onChange: (keys) => {
      for (const key of keys) pendingKeys.add(key);
      // Coalesce a burst (a decision, its proposal's status, the job) into one update per proposal.
      flushTimer ??= setTimeout(flush, 50);
    },
    onHealth: (kind, problem) => {
      const before = health.get(kind);
      if (problem === undefined) health.delete(kind);
      else health.set(kind, problem);
      if (before !== problem) {
        if (problem !== undefined) log(`watching ${kind} objects failed: ${problem}`);
        broadcast('health', Object.fromEntries(health));
      }
    },
  });

  async function verdict(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (body === NOT_JSON) return fail(res, 400, 'Invalid', 'request body is not JSON');
    const parsed = VerdictRequest.safeParse(body);
    if (!parsed.success) return fail(res, 400, 'Invalid', `not a verdict: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    const v = parsed.data;
    if (namespace !== undefined && v.namespace !== namespace) return fail(res, 400, 'Invalid', `this console serves namespace ${namespace}, not ${v.namespace}`);
    const verb = v.verdict === 'Approve' ? 'approve' : 'reject';
    const what = `${v.namespace}/${v.name}`;
    const review = await reviewForApproval(client, v.namespace, v.name, verb);
    // What is recorded must be what the approver saw: the same incarnation, the same hash.
    if (review.proposal.metadata.uid !== v.proposalUID) {
      return fail(res, 409, 'Changed', `${what} was deleted and re-created since you reviewed it (UID changed); nothing recorded — review the current version`);
    }
    if (review.proposalHash !== v.proposalHash) {
      return fail(res, 409, 'Changed', `hash changed: you reviewed ${v.proposalHash}, ${what} now hashes to ${review.proposalHash}; nothing recorded — review the current version`);
    }
    if (isExpired(review.decision, now())) {
      return fail(res, 409, 'Expired', `the decision on ${what} expired at ${review.decision.spec.expiresAt ?? '(unknown)'}; nothing recorded`);
    }
    const challenge = review.decision.spec.challenge;
    if (v.verdict === 'Approve' && challenge !== undefined && (v.challengeResponse ?? '').trim() === '') {
      return fail(res, 400, 'ChallengeRequired', `answer the challenge to approve: ${challenge.prompt}`);
    }
    const approval = await recordVerdict(client, review, v.verdict, {
      comment: v.comment?.trim() === '' ? undefined : v.comment,
      challengeResponse: v.verdict === 'Approve' ? v.challengeResponse?.trim() : undefined,
    });
    log(`${review.approver.username} recorded ${v.verdict} on ${what} (Approval ${approval.metadata.name ?? ''})`);
    send(res, 201, { approval: { name: approval.metadata.name, namespace: approval.metadata.namespace, approver: approval.spec.approver, verdict: approval.spec.verdict } });
  }

  async function outputs(res: ServerResponse, url: URL): Promise<void> {
    const ns = url.searchParams.get('namespace') ?? '';
    const job = url.searchParams.get('job') ?? '';
    const path = url.searchParams.get('path') ?? '';
    if (opts.artifacts === undefined) {
      return fail(res, 501, 'NotImplemented', 'artifact contents are not served yet: the receipt lists each artifact with its SHA-256 (the API has no artifacts endpoint)');
    }
    if (namespace !== undefined && ns !== namespace) return fail(res, 400, 'Invalid', `this console serves namespace ${namespace}`);
    const found = await opts.artifacts.read(ns, job, path);
    if (found === undefined) return fail(res, 404, 'NotFound', `no artifact ${path} for job ${ns}/${job}`);
    send(res, 200, found);
  }

  function events(res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    res.write(`retry: 2000\nevent: snapshot\ndata: ${JSON.stringify(snapshot())}\n\n`);
    streams.add(res);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    res.on('close', () => {
      clearInterval(keepalive);
      streams.delete(res);
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verdict_ = guard({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, { token, port, hosts });
    if (verdict_.kind === 'refuse') {
      res.writeHead(verdict_.status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end(`${verdict_.message}\n`);
      return;
    }
    if (verdict_.kind === 'login') {
      res.writeHead(303, { ...SECURITY_HEADERS, location: verdict_.location, 'set-cookie': verdict_.setCookie }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const method = req.method ?? 'GET';
    const file = files.get(url.pathname);
    if (file !== undefined) {
      if (method !== 'GET' && method !== 'HEAD') return fail(res, 405, 'MethodNotAllowed', `${method} ${url.pathname}: only GET`);
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': file.body.length }).end(method === 'HEAD' ? undefined : file.body);
      return;
    }
    switch (`${method} ${url.pathname}`) {
      case 'GET /api/state':
        return send(res, 200, snapshot());
      case 'GET /api/events':
        return events(res);
      case 'POST /api/verdict':
        return verdict(req, res);
      case 'GET /api/outputs':
        return outputs(res, url);
      default:
        return fail(res, url.pathname.startsWith('/api/') ? 405 : 404, 'NotFound', `${method} ${url.pathname}: no such page or endpoint`);
    }
  }

  const http = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = isClientError(err) ? (STATUS_OF_REASON[err.reason] ?? 500) : 500;
      const reason = isClientError(err) ? err.reason : 'Internal';
      if (status === 500) log(`${req.method ?? ''} ${req.url ?? ''}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) fail(res, status, reason, err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => resolve());
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const hosts = allowedHosts(opts.host, port);
  await model.start();
  const origin = `http://${hostPort(opts.host, port)}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    model,
    close: async () => {
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      for (const res of streams) res.end();
      await model.stop();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

