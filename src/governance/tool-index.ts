import { ToolSpec } from '../api/tool.ts';
import type { ToolCatalogue } from '../tool-catalogue/catalogue.ts';
import { toolHash } from '../tool-catalogue/tool-hash.ts';
import { maskOf, type EffectMask } from './effect-set.ts';
import { writeScopeRank } from './policy.ts';
import { firstIssue } from '../api/issues.ts';

/** A catalogue tool prepared for evaluation. */
export interface CompiledTool {
  name: string;
  spec: ToolSpec;
  /** toolHash(spec): what the envelope binds. */
  hash: string;
  effects: EffectMask;
  writeRank: number;
  modes: ReadonlySet<string>;
  /** Arguments that name filesystem paths (virtual-FS and workspace checked). */
  pathArgs: readonly string[];
  /** Arguments holding a unified diff (every file it touches is checked like a path). */
  patchArgs: readonly string[];
}

/** What the catalogue says about a step's tool name. */
export type ToolLookup = { found: true; tool: CompiledTool } | { found: false; problem: 'unknown' } | { found: false; problem: 'invalid'; message: string };

const compiled = new WeakMap<object, ToolLookup>();

function compile(name: string, raw: unknown): ToolLookup {
  // The caller's cache should hold only valid specs; one that is not is never used (fail closed).
  const parsed = ToolSpec.safeParse(raw);
  if (!parsed.success) {
    return { found: false, problem: 'invalid', message: firstIssue(parsed.error, 'spec') };
  }
  const spec = parsed.data;
  const argNames = (test: (a: ToolSpec['args'][string]) => boolean) =>
    Object.entries(spec.args)
      .filter(([, a]) => test(a))
      .map(([n]) => n);
  return {
    found: true,
    tool: {
      name,
      spec,
      hash: toolHash(spec),
      effects: maskOf(spec.effects),
      writeRank: writeScopeRank(spec.minWriteScope),
      modes: new Set(spec.executionModes),
      pathArgs: argNames((a) => a.pathLike === true),
      patchArgs: argNames((a) => a.format === 'patch'),
    },
  };
}

/** Looks a step's tool up in the catalogue (compiled once per spec object). */
export function lookupTool(name: string, catalogue: ToolCatalogue): ToolLookup {
  const raw = catalogue.get(name);
  if (raw === undefined) return { found: false, problem: 'unknown' };
  if (raw === null || typeof raw !== 'object') return { found: false, problem: 'invalid', message: 'spec is not an object' };
  // Only a frozen spec can be remembered: a mutable one could change under its cached hash.
  const cacheable = Object.isFrozen(raw);
  const known = cacheable ? compiled.get(raw) : undefined;
  if (known !== undefined && (!known.found || known.tool.name === name)) return known;
  const c = compile(name, raw);
  if (cacheable) compiled.set(raw, c);
  return c;
}

/** The compiled tool, or undefined when the catalogue has no valid tool of that name. */
export function compiledTool(name: string, catalogue: ToolCatalogue): CompiledTool | undefined {
  const l = lookupTool(name, catalogue);
  return l.found ? l.tool : undefined;
}
