import { runProcess } from '../process.ts';
import type { ToolContext, ToolResult } from './types.ts';

/** Runs the command the manifest configures for the chosen suite: argv only, no shell, in the workspace. */
export async function runTestsTool(ctx: ToolContext): Promise<ToolResult> {
  const suite = ctx.args.suite ?? '';
  const argv = Object.hasOwn(ctx.spec.suites ?? {}, suite) ? ctx.spec.suites?.[suite] : undefined;
  if (argv === undefined) return { exitCode: -1, reasonCode: 'TOOL_ARGS_INVALID', message: `args.suite: ${suite} is not a configured suite`, artifacts: [] };
  const r = await runProcess({ argv, cwd: ctx.workspace.root, env: ctx.childEnv, timeoutMs: ctx.timeoutMs, output: ctx.output });
  if (r.startError !== undefined) {
    return { exitCode: -1, reasonCode: 'TOOL_ERROR', message: `suite ${suite}: ${argv[0] ?? ''} could not start: ${r.startError}`, artifacts: [] };
  }
  return { exitCode: r.exitCode, timedOut: r.timedOut, artifacts: [] };
}
