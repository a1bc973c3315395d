import { echoTool } from './echo.ts';
import { fileWriteTool } from './file-write.ts';
import { httpGetTool, notifyTool } from './http.ts';
import { runTestsTool } from './run-tests.ts';
import type { ToolImplementation } from './types.ts';

/**
 * What the runner can execute. A step runs only if its tool is in the baked manifest *and* here; the
 * manifest decides everything about it (arguments, effects, scope, modes, timeout, network).
 */
export const TOOL_IMPLEMENTATIONS: ReadonlyMap<string, ToolImplementation> = new Map<string, ToolImplementation>([
  ['echo', echoTool],
  ['file_write', fileWriteTool],
  ['run_tests', runTestsTool],
  ['http_get', httpGetTool],
  ['notify', notifyTool],
]);

export type { ArtifactDigest, JobIdentity, ToolContext, ToolImplementation, ToolResult } from './types.ts';
