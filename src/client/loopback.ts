// Local servers that act with the user's or the agent's credentials (`m87 ui`, `m87 mcp --http`) listen on
// loopback, accept only Host headers that name themselves (DNS rebinding) and want a secret token that other
// local users cannot know; one implementation for both.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** A fresh random token: 32 bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of a presented token with the expected one. */
export function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}

/** `host:port` with IPv6 literals bracketed, as a Host header and a URL carry it. */
export function hostPort(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, '');
  return `${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}`;
}

/** The Host headers that name this server: the address it listens on and, on loopback, the loopback names. */
export function allowedHosts(host: string, port: number): ReadonlySet<string> {
  const own = hostPort(host, port);
  return new Set(isLoopback(host) ? [own, hostPort('127.0.0.1', port), hostPort('localhost', port), hostPort('::1', port)] : [own]);
}

