// Minimal JSON client for any resource, on the runtime's own transport (kube-transport.ts: node:https with one
// keep-alive pool per KubeAccess). We bypass @kubernetes/client-node's generated typed APIs and its fetch
// because (a) the runtime is generic over group/version/plural, (b) the typed models round-trip some fields
// badly (MicroTime comes back as a string typed as a Date subclass), (c) the library's `Watch` aborts any
// stream silent for a hard-coded, private 30 s — shorter than the apiserver's ~60 s bookmark interval, so a
// quiet watch would never receive a bookmark — and (d) loading it costs the controller ~80 MiB RSS and its
// undici stack ~30 % of the controller's CPU. Every function takes a KubeClient: a KubeAccess (kube-config.ts)
// or a client-node KubeConfig (adapted by kube-access.ts). Errors with an HTTP answer are KubeApiErrors
// (`.code`, `.body`: the Status); errors without one are KubeTransportErrors or the signal's reason.
import type { IncomingMessage } from 'node:http';
import { deadline } from './deadline.ts';
import { accessOf, type KubeClient } from './kube-access.ts';
import { readText, send } from './kube-transport.ts';
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

/** A request the API server answered with a non-2xx status. `body` is its Status, else the raw text. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  /** HTTP status code. */
  readonly code: number;
  readonly body: KubeStatus | string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: number, message: string, body: KubeStatus | string | undefined, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

function requestUrl(server: string, req: Pick<KubeRequest, 'path' | 'query'>): URL {
  const url = new URL(server + req.path);
  for (const [k, v] of Object.entries(req.query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  return url;
}

/** Sends req; resolves with the status, headers and the (unread) response. */
async function open(client: KubeClient, req: KubeRequest, signal: AbortSignal): Promise<IncomingMessage> {
  const access = accessOf(client);
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: string | undefined;
  if (req.body !== undefined) {
    headers['Content-Type'] = req.contentType ?? 'application/json';
    body = JSON.stringify(req.body);
  }
  return send(access, { method: req.method, url: requestUrl(access.server, req), headers, body, signal, fence: req.fence });
}

function headersOf(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
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
  return new KubeApiError(code, `${req.method} ${req.path} failed with HTTP ${code}: ${detail}`, status ?? bodyText, headers);
}

/** HTTP status code of a KubeApiError (or of an error carrying a numeric code or statusCode, e.g. client-node's ApiException), else undefined. */
export function errorCode(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.code;
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    // client-node's ApiException (its generated APIs, used by the CLI, dev/ and tests): code and body.
    if (typeof e.code === 'number' && Number.isInteger(e.code) && e.code >= 100 && e.code < 600 && 'body' in e) return e.code;
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

/** The Status `reason` of a KubeApiError, e.g. 'AlreadyExists' vs 'Conflict' (both HTTP 409). */
export function errorReason(err: unknown): string | undefined {
  if (err instanceof KubeApiError && isStatus(err.body)) return err.body.reason;
  return undefined;
}

/** One request, its answer as text. Throws KubeApiError on any non-2xx status. */
async function requestText(kc: KubeClient, req: KubeRequest): Promise<string> {
  const limit = deadline(req.timeoutMs ?? DEFAULT_TIMEOUT_MS, req.signal);
  const signal = limit.signal;
  try {
    const res = await open(kc, req, signal);
    const text = await readText(res, signal);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw apiError(req, status, text, headersOf(res));
    return text;
  } finally {
    limit.clear();
  }
}

/** One request, JSON in and out. Throws KubeApiError on any non-2xx status. */
export async function kubeRequest<T = unknown>(kc: KubeClient, req: KubeRequest): Promise<T> {
  const text = await requestText(kc, req);
  return (text === '' ? undefined : parseJson(text)) as T;
}

export interface RawWatchEvent {
  type: string;
  object: unknown;
}

/**
 * Opens a watch (the caller sets `watch=1` etc. in query) and calls onEvent for each JSON line, in order.
 * Resolves when the server ends the stream; rejects on HTTP errors (KubeApiError), transport errors, or
 * with the signal's reason when aborted. The caller owns reconnecting.
 */
export async function streamWatch(
  kc: KubeClient,
  req: { path: string; query: Record<string, QueryValue>; signal: AbortSignal },
  onEvent: (event: RawWatchEvent) => void,
  onOpen?: () => void,
): Promise<void> {
  const full: KubeRequest = { method: 'GET', path: req.path, query: req.query };
  const res = await open(kc, full, req.signal);
  try {
    if (res.statusCode !== 200) {
      throw apiError(full, res.statusCode ?? 0, await readText(res, req.signal), headersOf(res));
    }
    onOpen?.();
    res.setEncoding('utf8');
    let buffered = '';
    try {
      for await (const chunk of res) {
        buffered += chunk as string;
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
    } catch (err) {
      if (req.signal.aborted) throw req.signal.reason;
      throw err;
    }
  } finally {
    // Release the connection even when onEvent threw or the stream errored (a no-op after a clean end).
    if (!res.complete) res.destroy();
  }
}

export interface ObjectRef {
  namespace?: string | undefined;
  name: string;
}

/** GET one object; undefined when it does not exist (404). */
export async function getObject<T extends KubeObject = KubeObject>(
  kc: KubeClient,
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

/** One request whose response is text (e.g. pods/log). Throws KubeApiError on any non-2xx status. */
export function kubeRequestText(kc: KubeClient, req: KubeRequest): Promise<string> {
  return requestText(kc, req);
}
