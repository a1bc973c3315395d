// The GovernancePolicy the controller decides under: the cluster-scoped object named "default" (name
// configurable), read from the informer cache. Missing or invalid means "decide nothing" (DESIGN §3 step 0).
// The parsed spec object is kept per resourceVersion, so the engine's compiled-policy cache stays warm.
import { GovernancePolicySpec } from '../api/governance-policy.ts';
import { canonicalHash } from '../hash/canonical.ts';
import { validatePolicy } from '../governance/policy.ts';
import type { PolicyInput } from '../governance/types.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/resource.ts';

export type PolicyView =
  | { state: 'valid'; input: PolicyInput; resourceVersion: string | undefined }
  | { state: 'missing'; message: string }
  | { state: 'invalid'; message: string; errors: string[]; generation: number };

export class PolicyState {
  readonly name: string;
  readonly #informer: Informer<KubeObject>;
  #cachedFor: KubeObject | undefined;
  #cached: PolicyView | undefined;

  constructor(informer: Informer<KubeObject>, name = 'default') {
    this.#informer = informer;
    this.name = name;
  }

  current(): PolicyView {
    const obj = this.#informer.getByName(undefined, this.name);
    if (obj === undefined) {
      this.#cachedFor = undefined;
      return { state: 'missing', message: `GovernancePolicy ${this.name} does not exist; nothing is decided until it does.` };
    }
    if (obj === this.#cachedFor && this.#cached) return this.#cached;
    this.#cachedFor = obj;
    this.#cached = evaluatePolicyObject(obj, this.name);
    return this.#cached;
  }
}

export function evaluatePolicyObject(obj: KubeObject, name: string): PolicyView {
  const generation = typeof obj.metadata.generation === 'number' ? obj.metadata.generation : 0;
  if (obj.metadata.deletionTimestamp !== undefined) {
    return { state: 'invalid', message: `GovernancePolicy ${name} is being deleted.`, errors: ['metadata.deletionTimestamp: set'], generation };
  }
  const errors = validatePolicy(obj.spec);
  if (errors.length > 0) {
    return { state: 'invalid', message: `GovernancePolicy ${name} is invalid: ${errors.slice(0, 5).join('; ')}`, errors, generation };
  }
  // validatePolicy succeeded, so the schema parse does too; parse to get defaults applied and a private copy.
  const spec = GovernancePolicySpec.parse(obj.spec);
  return { state: 'valid', input: { spec, generation, hash: canonicalHash(spec) }, resourceVersion: obj.metadata.resourceVersion };
}
