// Minimal JSON client for any resource, on top of @kubernetes/client-node's authentication and HTTP stack
// (KubeConfig.applySecurityAuthentication + its undici-based fetch), with one pooled dispatcher per KubeConfig. We bypass the generated typed APIs
// because (a) the runtime is generic over group/version/plural, (b) the typed models round-trip some
// fields badly (MicroTime comes back as a string typed as a Date subclass), and (c) the library's `Watch`
// aborts any stream silent for a hard-coded, private 30 s — shorter than the apiserver's ~60 s bookmark
// interval, so a quiet watch would never receive a bookmark. Errors are client-node `ApiException`s, so
// callers check `.code` the same way as for the generated APIs.
import { ApiException, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { shareConnections } from './connection-pool.ts';
import { resourcePath, type KubeObject, type ResourceType } from './resource.ts';

export type QueryValue = string | number | boolean | undefined;

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absolute API path, e.g. '/api/v1/namespaces/default/configmaps'. */
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Content-Type of the body; default application/json. */
  contentType?: string;
  signal?: AbortSignal;
  /** Whole-request timeout for non-streaming requests; default 30 s. */
  timeoutMs?: number;
  /**
   * Write fence, called after all async preparation, immediately before the request goes out, so the
   * gap between "may I still write?" and the write itself is as small as possible. Throw to cancel.
   */
  fence?: () => void;
}

/** The metav1.Status the apiserver returns with errors (and in watch ERROR events). */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: Record<string, unknown>;
}

export type KubeApiError = ApiException<KubeStatus | string | undefined>;

const httpLibrary = new IsomorphicFetchHttpLibrary();
const DEFAULT_TIMEOUT_MS = 30_000;

async function prepare(kc: KubeConfig, req: KubeRequest, signal: AbortSignal): Promise<RequestContext> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig: no current cluster (current-context unset or unknown)');
  const url = new URL(cluster.server.replace(/\/+$/, '') + req.path);
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  const ctx = new RequestContext(url.toString(), req.method);
  ctx.setHeaderParam('Accept', 'application/json');
  if (req.body !== undefined) {
    ctx.setHeaderParam('Content-Type', req.contentType ?? 'application/json');
    ctx.setBody(JSON.stringify(req.body));
  }
  await kc.applySecurityAuthentication(ctx);
  // One keep-alive pool per KubeConfig: no TLS handshake per request (connection-pool.ts).
  shareConnections(kc, ctx);
  ctx.setSignal(signal);
  return ctx;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isStatus(value: unknown): value is KubeStatus {
  return value !== null && typeof value === 'object' && (value as { kind?: unknown }).kind === 'Status';
}

export function apiError(
  req: Pick<KubeRequest, 'method' | 'path'>,
  code: number,
  bodyText: string,
  headers: Record<string, string> = {},
): KubeApiError {
  const parsed = parseJson(bodyText);
  const status = isStatus(parsed) ? parsed : undefined;
  const detail = status ? `${status.reason ?? 'Unknown'}: ${status.message ?? ''}` : bodyText.slice(0, 500);
  return new ApiException<KubeStatus | string | undefined>(
    code,
    `${req.method} ${req.path} failed with HTTP ${code}: ${detail}`,
    status ?? bodyText,
    headers,
  );
}

/** HTTP status code of an ApiException (or of an error carrying statusCode), else undefined. */
export function errorCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return errorCode(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return errorCode(err) === 409;
}

export function isGone(err: unknown): boolean {
  return errorCode(err) === 410;
}

/** The Status `reason` of an ApiException, e.g. 'AlreadyExists' vs 'Conflict' (both HTTP 409). */
export function errorReason(err: unknown): string | undefined {
  if (err instanceof ApiException && isStatus(err.body)) return err.body.reason;
  return undefined;
}

/** One request, JSON in and out. Throws ApiException on any non-2xx status. */
export async function kubeRequest<T = unknown>(kc: KubeConfig, req: KubeRequest): Promise<T> {
  // AbortSignal.timeout only takes integers >= 0.
  const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(req.timeoutMs ?? DEFAULT_TIMEOUT_MS)));
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const ctx = await prepare(kc, req, signal);
  req.fence?.();
  const resp = await httpLibrary.send(ctx).toPromise();
  const text = await resp.body.text();
  if (resp.httpStatusCode < 200 || resp.httpStatusCode >= 300) {
    throw apiError(req, resp.httpStatusCode, text, resp.headers);
  }
  return (text === '' ? undefined : parseJson(text)) as T;
}

export interface RawWatchEvent {
  type: string;
  object: unknown;
}

/**
 * Opens a watch (the caller sets `watch=1` etc. in query) and calls onEvent for each JSON line, in order.
 * Resolves when the server ends the stream; rejects on HTTP errors (ApiException), transport errors, or
 * with the signal's reason when aborted. The caller owns reconnecting.
 */
export async function streamWatch(
  kc: KubeConfig,
  req: { path: string; query: Record<string, QueryValue>; signal: AbortSignal },
  onEvent: (event: RawWatchEvent) => void,
  onOpen?: () => void,
): Promise<void> {
  const full: KubeRequest = { method: 'GET', path: req.path, query: req.query };
  const ctx = await prepare(kc, full, req.signal);
  const resp = await httpLibrary.send(ctx).toPromise();
  if (resp.httpStatusCode !== 200) {
    throw apiError(full, resp.httpStatusCode, await resp.body.text(), resp.headers);
  }
  onOpen?.();
  const stream = resp.body.stream();
  if (!stream) throw new Error(`GET ${req.path}: watch response has no body`);
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === '') continue;
        const parsed = parseJson(line);
        if (parsed === null || typeof parsed !== 'object' || typeof (parsed as { type?: unknown }).type !== 'string') {
          throw new Error(`GET ${req.path}: malformed watch event ${line.slice(0, 200)}`);
        }
        onEvent(parsed as RawWatchEvent);
      }
    }
  } finally {
    // Release the connection even when onEvent threw or the stream errored.
    await reader.cancel().catch(() => undefined);
  }
}

export interface ObjectRef {
  namespace?: string | undefined;
  name: string;
}

/** GET one object; undefined when it does not exist (404). */
export async function getObject<T extends KubeObject = KubeObject>(
  kc: KubeConfig,
  resource: ResourceType,
  ref: ObjectRef,
  opts: { signal?: AbortSignal } = {},
): Promise<T | undefined> {
  try {
    return await kubeRequest<T>(kc, {
      method: 'GET',
      path: resourcePath(resource, { namespace: ref.namespace, name: ref.name }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** One request whose response is text (e.g. pods/log). Throws ApiException on any non-2xx status. */
export async function kubeRequestText(kc: KubeConfig, req: KubeRequest): Promise<string> {
  const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(req.timeoutMs ?? DEFAULT_TIMEOUT_MS)));
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const ctx = await prepare(kc, req, signal);
  req.fence?.();
  const resp = await httpLibrary.send(ctx).toPromise();
  const text = await resp.body.text();
  if (resp.httpStatusCode < 200 || resp.httpStatusCode >= 300) throw apiError(req, resp.httpStatusCode, text, resp.headers);
  return text;
}
