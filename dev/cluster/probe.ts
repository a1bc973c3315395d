// Health probes against the plane's loopback endpoints, and the polling loop used while starting it.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ProbeResult {
  readonly status: number;
  readonly body: string;
}

/** GET a loopback URL; https is verified against caPem. Rejects on connection errors and timeouts. */
export function httpGet(url: string, options: { caPem?: string; token?: string; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const target = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
    return Promise.reject(new Error(`probe: refusing to contact non-loopback host ${target.hostname}`));
  }
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'GET',
        timeout: options.timeoutMs ?? 2_000,
        ...(options.caPem !== undefined ? { ca: options.caPem } : {}),
        headers: options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`probe: ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface WaitOptions {
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Checked before every attempt; throwing from it ends the wait with that error. */
  readonly abortIf?: () => void;
}

/** Polls check until it returns a value other than undefined; errors from check count as "not yet". */
export async function waitUntil<T>(check: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: string;
  for (;;) {
    options.abortIf?.();
    try {
      const value = await check();
      if (value !== undefined) return value;
      last = 'not ready';
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
