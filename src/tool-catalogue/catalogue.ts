import { TOOL_NAME, TOOL_NAME_MAX, ToolSpec } from '../api/tool.ts';
import { firstIssue } from '../api/issues.ts';
import { deepFreeze } from '../hash/freeze.ts';

/**
 * The tool catalogue as the engine sees it: tool name → Tool spec. The controller builds it from its cache
 * of Tool objects; the engine never reads the cluster. Entries are validated again where they are used (a
 * spec the zod schema refuses is an invalid tool, never a usable one).
 */
export type ToolCatalogue = ReadonlyMap<string, ToolSpec>;

export class ToolCatalogueError extends Error {
  override name = 'ToolCatalogueError';
}

/** Parses one tool (name and spec); the error names the offending field. The result is deeply frozen. */
export function parseTool(name: string, spec: unknown): ToolSpec {
  if (name.length > TOOL_NAME_MAX || !TOOL_NAME.test(name)) {
    throw new ToolCatalogueError(`tool ${JSON.stringify(name)}: metadata.name must be a DNS label of at most ${TOOL_NAME_MAX} characters`);
  }
  const parsed = ToolSpec.safeParse(spec);
  if (!parsed.success) {
    throw new ToolCatalogueError(`tool ${name}: ${firstIssue(parsed.error, 'spec')}`);
  }
  return deepFreeze(parsed.data);
}

/** A catalogue from name → spec entries (e.g. Tool objects); throws on an invalid entry or a repeated name. */
export function catalogueOf(entries: Iterable<readonly [string, unknown]>): ToolCatalogue {
  const out = new Map<string, ToolSpec>();
  for (const [name, spec] of entries) {
    if (out.has(name)) throw new ToolCatalogueError(`tool ${name}: listed twice`);
    out.set(name, parseTool(name, spec));
  }
  return out;
}
