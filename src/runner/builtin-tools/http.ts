import { isRefusalCode } from '../codes.ts';
import { gatedRequest, type GatedRequest } from '../http-client.ts';
import type { ToolContext, ToolResult } from './types.ts';

function isTimeout(e: unknown): boolean {
  const name = (e as Error | undefined)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

async function viaGate(ctx: ToolContext, req: Omit<GatedRequest, 'timeoutMs' | 'output'>): Promise<ToolResult> {
  if (ctx.egress === undefined) return { exitCode: -1, reasonCode: 'EGRESS_PROXY_AUTH_REQUIRED', message: `${ctx.spec.name} has no egress lease`, artifacts: [] };
  try {
    const res = await gatedRequest(ctx.egress, { ...req, timeoutMs: ctx.timeoutMs, output: ctx.output });
    if (res.gateCode !== undefined) {
      return {
        exitCode: 1,
        reasonCode: isRefusalCode(res.gateCode) ? res.gateCode : 'EGRESS_UPSTREAM_FAILED',
        message: `egress gate answered ${res.status} ${res.gateCode} for ${req.url.host}`,
        artifacts: [],
      };
    }
    if (res.status >= 200 && res.status < 300) return { exitCode: 0, artifacts: [] };
    return { exitCode: 1, reasonCode: 'STEP_FAILED', message: `${req.method} ${req.url.host} answered HTTP ${res.status}`, artifacts: [] };
  } catch (e) {
    if (isTimeout(e)) return { exitCode: -1, timedOut: true, artifacts: [] };
    return { exitCode: -1, reasonCode: 'EGRESS_UPSTREAM_FAILED', message: `${req.method} ${req.url.host}: ${(e as Error).message}`, artifacts: [] };
  }
}

/** GET through the egress gate; the body is the step output (capped, hashed, saved as the step artifact). */
export function httpGetTool(ctx: ToolContext): Promise<ToolResult> {
  return viaGate(ctx, { method: 'GET', url: new URL(ctx.args.url ?? ''), headers: { accept: '*/*', 'user-agent': 'm87-runner' } });
}

/** Webhook POST through the egress gate: a JSON body naming the job; the response body is the step output. */
export function notifyTool(ctx: ToolContext): Promise<ToolResult> {
  const body = Buffer.from(
    JSON.stringify({ message: ctx.args.message ?? '', job: `${ctx.job.namespace}/${ctx.job.name}`, jobUID: ctx.job.uid, deh: ctx.job.deh }),
    'utf8',
  );
  return viaGate(ctx, {
    method: 'POST',
    url: new URL(ctx.args.url ?? ''),
    headers: { 'content-type': 'application/json', 'user-agent': 'm87-runner' },
    body,
  });
}
