import { createHash } from 'node:crypto';
import type { ToolContext, ToolResult } from './types.ts';

/**
 * Writes `content` to `path` below the workspace (no symlink followed, read back and hashed). In draft mode
 * it only reports what it would write.
 */
export function fileWriteTool(ctx: ToolContext): Promise<ToolResult> {
  const content = Buffer.from(ctx.args.content ?? '', 'utf8');
  const expected = createHash('sha256').update(content).digest('hex');
  const target = ctx.workspace.resolve(ctx.args.path ?? '', 'args.path');
  if (ctx.mode === 'draft') {
    ctx.output.write(`draft: would write ${content.length} bytes to ${target.relative} (sha256 ${expected})\n`);
    return Promise.resolve({ exitCode: 0, artifacts: [] });
  }
  const digest = ctx.workspace.writeFile(target, content, 'args.path');
  if (digest !== expected) {
    ctx.output.write(`wrote ${target.relative} but read back sha256 ${digest}, expected ${expected}\n`);
    return Promise.resolve({ exitCode: 1, reasonCode: 'TOOL_ERROR', message: `${target.relative}: content changed while writing`, artifacts: [] });
  }
  ctx.output.write(`wrote ${content.length} bytes to ${target.relative} (sha256 ${digest})\n`);
  return Promise.resolve({ exitCode: 0, artifacts: [{ path: target.relative, sha256: digest }] });
}
