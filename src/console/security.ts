// How the console protects itself like a local web UI must: whoever can make the browser talk to the port
// would act with the approver's credentials. So: loopback only (unless forced), a random token per start
// that the CLI prints (exchanged for an HttpOnly SameSite=Strict cookie on the first load and dropped from
// the URL), the Host header checked against the addresses we listen on (DNS rebinding), the Origin checked
// on every request that carries one and required on every write (CSRF), writes only as JSON, and no CORS
// headers ever. Pure functions of the request, so they are unit-tested without a server.
import { allowedHosts, hostPort, isLoopback, newToken, sameToken } from '../client/loopback.ts';

export { allowedHosts, hostPort, isLoopback, newToken };

/** One cookie name per port: cookies are not port-scoped, and two consoles on one machine must not collide. */
export function cookieName(port: number): string {
  return `m87_console_${port}`;
}

export interface GuardContext {
  token: string;
  port: number;
  hosts: ReadonlySet<string>;
}

export interface GuardRequest {
  method: string;
  /** The request target, e.g. "/?token=…" or "/api/state". */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type GuardResult =
  | { kind: 'pass' }
  /** The first load with the right token: set the cookie and redirect to the page without the token. */
  | { kind: 'login'; location: string; setCookie: string }
  | { kind: 'refuse'; status: number; message: string };

function header(req: GuardRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** Decides whether a request may reach the console, before anything else looks at it. */
export function guard(req: GuardRequest, ctx: GuardContext): GuardResult {
  const host = header(req, 'host');
  if (host === undefined || !ctx.hosts.has(host.toLowerCase())) {
    return { kind: 'refuse', status: 403, message: `refused: Host "${host ?? ''}" is not this console (open the URL m87 ui printed)` };
  }
  const origin = header(req, 'origin');
  const safe = SAFE_METHODS.has(req.method);
  if (origin !== undefined && !(origin.startsWith('http://') && ctx.hosts.has(origin.slice('http://'.length).toLowerCase()))) {
    return { kind: 'refuse', status: 403, message: `refused: cross-origin request from ${origin}` };
  }
  if (!safe) {
    // Browsers send Origin on every POST; a write without one did not come from this page.
    if (origin === undefined) return { kind: 'refuse', status: 403, message: 'refused: a write must come from the console page (no Origin header)' };
    const site = header(req, 'sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') return { kind: 'refuse', status: 403, message: `refused: cross-site request (Sec-Fetch-Site: ${site})` };
    const type = header(req, 'content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) return { kind: 'refuse', status: 415, message: 'refused: writes are JSON (Content-Type: application/json)' };
  }
  const url = new URL(req.url, 'http://console.invalid');
  const name = cookieName(ctx.port);
  const queryToken = url.searchParams.get('token') ?? undefined;
  // A URL with the token always becomes the cookie and a redirect, so the token never stays in the address bar.
  if (queryToken === undefined && sameToken(cookieValue(header(req, 'cookie'), name), ctx.token)) return { kind: 'pass' };
  if (safe && sameToken(queryToken, ctx.token)) {
    // Always to the one page: a Location built from the request could point elsewhere ("//host").
    return { kind: 'login', location: '/', setCookie: `${name}=${ctx.token}; HttpOnly; SameSite=Strict; Path=/` };
  }
  return {
    kind: 'refuse',
    status: 401,
    message: queryToken === undefined ? 'no console token: open the URL m87 ui printed (it carries the token)' : 'wrong console token: open the URL this run of m87 ui printed',
  };
}

/** Headers on every answer: nothing may frame, sniff, cache or embed the console, and it loads only its own files. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
