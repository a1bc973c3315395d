// One error type for everything the typed client can fail with, so callers (CLI exit codes, MCP tool
// errors, the console's HTTP answers) map a stable `reason` instead of parsing messages. Messages name the
// object and, where there is one, the field.
import type { z } from 'zod';
import { errorCode, type KubeStatus } from '../runtime/kube-http.ts';

export type ClientErrorReason =
  /** No usable connection: no kubeconfig, no current context, no in-cluster credentials. */
  | 'NoCredentials'
  /** The API server did not accept the credentials (401), or they are anonymous. */
  | 'Unauthorized'
  /** RBAC or an admission policy refused the request (403). */
  | 'Forbidden'
  | 'NotFound'
  /** The name is taken (409 AlreadyExists). */
  | 'AlreadyExists'
  /** Another kind of 409: a write lost a race. */
  | 'Conflict'
  /** The request was not valid: refused locally by the zod schema, or by the API server (400/422). */
  | 'Invalid'
  /** The request is larger than the client sends. */
  | 'TooLarge'
  /** The API server answered with something the schema does not accept (fail closed: never used). */
  | 'InvalidResponse'
  /** A watch's resourceVersion is too old (410); list again. */
  | 'Expired'
  /** Timeout, transport error or 5xx. */
  | 'Unavailable';

export class M87ClientError extends Error {
  override name = 'M87ClientError';
  readonly reason: ClientErrorReason;
  /** HTTP status of the API server's answer, when there was one. */
  readonly status: number | undefined;
  /** Dotted path of the offending field (e.g. spec.steps[0].tool), when the error is about one. */
  readonly field: string | undefined;
  constructor(reason: ClientErrorReason, message: string, opts: { status?: number; field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.reason = reason;
    this.status = opts.status;
    this.field = opts.field;
  }
}

export function isClientError(err: unknown, reason?: ClientErrorReason): err is M87ClientError {
  return err instanceof M87ClientError && (reason === undefined || err.reason === reason);
}

/**
 * `spec.steps[0].tool` from zod's ['spec', 'steps', 0, 'tool']; the same form as src/api/issues.ts on the
 * integrity-controller branch (once merged, this delegates to it).
 */
export function fieldPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Every zod issue as "field: message", one per line (at most `limit`). */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = '', limit = 10): { field: string; text: string } {
  const lines = issues.slice(0, limit).map((i) => `${fieldPath(i.path, prefix)}: ${i.message}`);
  if (issues.length > limit) lines.push(`… and ${issues.length - limit} more`);
  return { field: fieldPath(issues[0]?.path ?? [], prefix), text: lines.join('\n') };
}

function statusOf(err: unknown): KubeStatus | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  if (body !== null && typeof body === 'object' && (body as { kind?: unknown }).kind === 'Status') return body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as unknown;
      if (parsed !== null && typeof parsed === 'object' && (parsed as { kind?: unknown }).kind === 'Status') return parsed;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The fields the API server names in a 422's details.causes, e.g. "spec.effects[0]: Unsupported value". */
function causes(status: KubeStatus | undefined): { field: string | undefined; text: string } {
  const list = (status?.details as { causes?: { field?: string; message?: string }[] } | undefined)?.causes ?? [];
  const named = list.filter((c) => c.field !== undefined && c.field !== '');
  return { field: named[0]?.field, text: named.map((c) => `${c.field}: ${c.message ?? ''}`).join('\n') };
}

/** Turns an error of src/runtime/kube-http.ts into an M87ClientError that says what `what` was. */
export function fromApiError(err: unknown, what: string): M87ClientError {
  if (err instanceof M87ClientError) return err;
  const code = errorCode(err);
  const status = statusOf(err);
  const message = status?.message ?? (err instanceof Error ? err.message : String(err));
  const opts = { status: code, cause: err };
  switch (code) {
    case 401:
      return new M87ClientError('Unauthorized', `${what}: the API server did not accept the credentials (401 Unauthorized)`, opts);
    case 403:
      return new M87ClientError('Forbidden', `${what}: forbidden: ${message}`, opts);
    case 404:
      return new M87ClientError('NotFound', `${what}: not found`, opts);
    case 409:
      return status?.reason === 'AlreadyExists'
        ? new M87ClientError('AlreadyExists', `${what}: already exists`, opts)
        : new M87ClientError('Conflict', `${what}: conflict: ${message}`, opts);
    case 410:
      return new M87ClientError('Expired', `${what}: ${message}`, opts);
    case 413:
      return new M87ClientError('TooLarge', `${what}: the API server refused the request as too large: ${message}`, opts);
    case 400:
    case 422: {
      const c = causes(status);
      return new M87ClientError('Invalid', `${what}: rejected by the API server: ${c.text !== '' ? c.text : message}`, { ...opts, ...(c.field !== undefined ? { field: c.field } : {}) });
    }
    case undefined:
    default:
      // No HTTP answer (transport error, timeout) or a 5xx.
      return new M87ClientError('Unavailable', `${what}: ${err instanceof Error ? err.message : String(err)}`, opts);
  }
}
