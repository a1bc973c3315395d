// Local servers that act with the user's or the agent's credentials (`m87 ui`, `m87 mcp --http`) listen on
// loopback and accept only Host headers that name themselves (DNS rebinding); one implementation for both.
import { isIP } from 'node:net';

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

