import type { ToolContext, ToolResult } from './types.ts';

/** Writes the message to the step output, in-process (no argv, so nothing is read as an option). */
export function echoTool(ctx: ToolContext): Promise<ToolResult> {
  ctx.output.write(ctx.args.message ?? '');
  return Promise.resolve({ exitCode: 0, artifacts: [] });
}
