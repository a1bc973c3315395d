import { findTool, type ToolManifest, type ToolSpec } from '../tool-catalogue/manifest.ts';
import { maskOf, type EffectMask } from './effect-set.ts';
import { writeScopeRank } from './policy.ts';

/** A manifest tool prepared for evaluation. */
export interface CompiledTool {
  spec: ToolSpec;
  effects: EffectMask;
  writeRank: number;
  modes: ReadonlySet<string>;
  /** Arguments that name filesystem paths (virtual-FS checked). */
  pathArgs: readonly string[];
}

const compiled = new WeakMap<ToolSpec, CompiledTool>();

export function compiledTool(name: string, manifest: ToolManifest): CompiledTool | undefined {
  const spec = findTool(name, manifest);
  if (spec === undefined) return undefined;
  let c = compiled.get(spec);
  if (c === undefined) {
    c = {
      spec,
      effects: maskOf(spec.effects),
      writeRank: writeScopeRank(spec.minWriteScope),
      modes: new Set(spec.executionModes),
      pathArgs: Object.entries(spec.args)
        .filter(([, a]) => a.pathLike === true)
        .map(([n]) => n),
    };
    compiled.set(spec, c);
  }
  return c;
}
