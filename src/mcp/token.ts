// The bearer token of `m87 mcp --http`: loopback keeps other machines out, not other users or processes of
// this one, and whoever reaches the port acts with the agent's credentials. The token lives in a file only
// its owner can read; the server creates it on first use, so the agent runtime's configuration and the
// server can share one path.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { newToken } from '../client/loopback.ts';

/** Shortest token accepted from a file: 32 characters (a fresh one is 43, base64url of 32 random bytes). */
export const MIN_TOKEN_LENGTH = 32;
/** RFC 6750's token68 characters: what fits an `Authorization: Bearer` header as is. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

export interface TokenFile {
  token: string;
  /** True when this call wrote the file. */
  created: boolean;
}

/**
 * The token in `path`, creating the file (mode 0600, a fresh random token) when it does not exist. A file that
 * exists but cannot be read, holds a malformed or short token, or that others may read is an error naming
 * the file: never a server without the token it was asked to require.
 */
export function loadOrCreateToken(path: string): TokenFile {
  const token = newToken();
  try {
    writeFileSync(path, `${token}\n`, { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600); // the umask may have taken bits off, never added; make the mode exact
    return { token, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`--token-file ${path}: cannot create it: ${(error as Error).message}`, { cause: error });
  }
  let text: string;
  try {
    if ((statSync(path).mode & 0o077) !== 0) {
      throw new Error(`--token-file ${path}: group or others may read it (chmod 600 ${path}, or remove it to have a new one made)`);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as Error).message.startsWith('--token-file')) throw error;
    throw new Error(`--token-file ${path}: cannot read it: ${(error as Error).message}`, { cause: error });
  }
  const existing = text.trim();
  if (existing.length < MIN_TOKEN_LENGTH || !TOKEN68.test(existing)) {
    throw new Error(`--token-file ${path}: want one token of at least ${MIN_TOKEN_LENGTH} characters (A-Z a-z 0-9 - . _ ~ + / =), found ${existing.length} characters${existing.length > 0 && !TOKEN68.test(existing) ? ' with others' : ''}`);
  }
  return { token: existing, created: false };
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^Bearer +(\S+)\s*$/i.exec(value ?? '');
  return m?.[1];
}
