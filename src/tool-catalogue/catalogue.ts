import { TOOL_NAME, TOOL_NAME_MAX, ToolSpec } from '../api/tool.ts';
import { firstIssue } from '../api/issues.ts';

/**
 * The tool catalogue as the engine sees it: tool name → Tool spec. The controller builds it from its cache
 * of Tool objects; the engine never reads the cluster. Entries are validated again where they are used (a
 * spec the zod schema refuses is an invalid tool, never a usable one).
 */
export type ToolCatalogue = ReadonlyMap<string, ToolSpec>;

export class ToolCatalogueError extends Error {
  override name = 'ToolCatalogueError';
}

export interface CatalogueOptions {
  /** Transitional: accept the runner built-ins' underscore names (builtin-catalogue.ts), which no object can have. */
  allowBuiltinNames?: boolean;
}

const BUILTIN_NAME = /^[a-z][a-z0-9_]*$/;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Parses one tool (name and spec); the error names the offending field. The result is deeply frozen. */
export function parseTool(name: string, spec: unknown, options: CatalogueOptions = {}): ToolSpec {
  const nameOk = options.allowBuiltinNames === true ? BUILTIN_NAME.test(name) : TOOL_NAME.test(name);
  if (name.length > TOOL_NAME_MAX || !nameOk) {
    throw new ToolCatalogueError(`tool ${JSON.stringify(name)}: metadata.name must be a DNS label of at most ${TOOL_NAME_MAX} characters`);
  }
  const parsed = ToolSpec.safeParse(spec);
  if (!parsed.success) {
    throw new ToolCatalogueError(`tool ${name}: ${firstIssue(parsed.error, 'spec')}`);
  }
  return deepFreeze(parsed.data);
}

/** A catalogue from name → spec entries (e.g. Tool objects); throws on an invalid entry or a repeated name. */
export function catalogueOf(entries: Iterable<readonly [string, unknown]>, options: CatalogueOptions = {}): ToolCatalogue {
  const out = new Map<string, ToolSpec>();
  for (const [name, spec] of entries) {
    if (out.has(name)) throw new ToolCatalogueError(`tool ${name}: listed twice`);
    out.set(name, parseTool(name, spec, options));
  }
  return out;
}
