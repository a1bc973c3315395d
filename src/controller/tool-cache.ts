// The tool catalogue as the controller sees it: its cache of the cluster-scoped Tool objects (name → spec).
// The engine decides steps against it, the proposals controller checks a decision's tool bindings against it
// before it mints, and the job controller again before it creates the step Pod (a Tool edited or deleted after
// the decision must not run under the old signature).
import type { ToolSpec } from '../api/tool.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/resource.ts';
import type { ToolCatalogue } from '../tool-catalogue/catalogue.ts';
import { deepFreeze } from '../hash/freeze.ts';

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
   * The Tool objects, name → spec exactly as stored (deeply frozen copies, rebuilt when the cache changes):
   * the whole catalogue, the only one the engine decides against (there are no built-in tools).
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
}
