// The tool catalogue as the controller sees it: its cache of the cluster-scoped Tool objects (name → spec).
// The engine decides steps against it, the proposals controller checks a decision's tool bindings against it
// before it mints, and the job controller again before it creates the step Pod (a Tool edited or deleted after
// the decision must not run under the old signature).
import type { ToolSpec } from '../api/tool.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { BUILTIN_CATALOGUE } from '../tool-catalogue/builtin-catalogue.ts';
import { checkToolBinding } from '../tool-catalogue/binding.ts';
import type { ToolCatalogue } from '../tool-catalogue/catalogue.ts';
import type { EnvelopeStep } from '../api/envelope.ts';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export class ToolCache {
  readonly #informer: Informer<KubeObject>;
  #cluster: Map<string, ToolSpec> | undefined;

  constructor(informer: Informer<KubeObject>) {
    this.#informer = informer;
    const invalidate = (): void => {
      this.#cluster = undefined;
    };
    informer.addHandlers({ onAdd: invalidate, onUpdate: invalidate, onDelete: invalidate });
  }

  hasSynced(): boolean {
    return this.#informer.hasSynced();
  }

  /**
   * The Tool objects, name → spec exactly as stored (deeply frozen copies, rebuilt when the cache changes).
   * A spec the schema refuses stays in: the engine reports it as an invalid tool (naming the field) rather
   * than as an unknown one, and a binding check finds it changed.
   */
  tools(): ToolCatalogue {
    if (this.#cluster === undefined) {
      const out = new Map<string, ToolSpec>();
      for (const obj of this.#informer.list()) {
        const name = obj.metadata.name;
        if (name === undefined || obj.metadata.deletionTimestamp !== undefined) continue;
        out.set(name, deepFreeze(structuredClone(obj.spec)) as ToolSpec);
      }
      this.#cluster = out;
    }
    return this.#cluster;
  }

  /**
   * What the engine decides against. TRANSITIONAL (issue 15): the runner's built-in tools (builtin-catalogue.ts)
   * stay decidable until the toy built-ins are removed, and keep their name: the one they share with a shipped
   * Tool (`notify`) still means the built-in, so proposals written for it run as before. Every other name is
   * the Tool object's.
   */
  catalogue(): ToolCatalogue {
    const merged = new Map<string, ToolSpec>(this.tools());
    for (const [name, spec] of BUILTIN_CATALOGUE) merged.set(name, spec);
    return merged;
  }
}

/** Whether every step of an envelope was decided against a runner built-in (then the Pod is the single-container one). */
export function builtinOnly(steps: readonly EnvelopeStep[]): boolean {
  return steps.every((s, i) => {
    const builtin = BUILTIN_CATALOGUE.get(s.tool);
    return builtin !== undefined && checkToolBinding(s, i, builtin) === undefined;
  });
}
