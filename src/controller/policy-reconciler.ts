// GovernancePolicy.status: the hash recorded in Decisions and a Valid condition saying why a policy cannot
// be used, so `kubectl get gpol` answers "why is nothing being decided?".
import type { KubeClient } from '../runtime/kube-access.ts';
import type { z } from 'zod';
import type { GovernancePolicyStatus as StatusSchema } from '../api/governance-policy.ts';
import type { ObjectKey, ReconcileContext } from '../runtime/controller.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { patchStatus, setCondition } from '../runtime/status.ts';
import { evaluatePolicyObject } from './policy-state.ts';
import { GOVERNANCE_POLICIES } from './resources.ts';
import type { Informers } from './informers.ts';
import { FIELD_MANAGER } from './names.ts';

type GovernancePolicyStatus = z.infer<typeof StatusSchema>;

export interface PolicyReconcilerDeps {
  kc: KubeClient;
  /** The controller's clock (epoch ms). */
  now: () => number;
  policyName: string;
  informers: Pick<Informers, 'policies'>;
}

export class PolicyReconciler {
  readonly #s: PolicyReconcilerDeps;

  constructor(deps: PolicyReconcilerDeps) {
    this.#s = deps;
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<void> {
    if (key.name !== this.#s.policyName) return;
    const obj = this.#s.informers.policies.getByName(undefined, key.name);
    if (obj === undefined || obj.metadata.deletionTimestamp !== undefined) return;
    const view = evaluatePolicyObject(obj, key.name);
    const generation = typeof obj.metadata.generation === 'number' ? obj.metadata.generation : 0;
    const edit = (current: GovernancePolicyStatus | undefined): GovernancePolicyStatus => {
      const status: GovernancePolicyStatus = { ...(current ?? {}), observedGeneration: generation };
      if (view.state === 'valid') {
        status.hash = view.input.hash;
        delete status.message;
      } else {
        delete status.hash;
        status.message = view.message.slice(0, 4096);
      }
      status.conditions = setCondition(
        (status.conditions ?? []),
        view.state === 'valid'
          ? { type: 'Valid', status: 'True', reason: 'Valid', message: 'The policy is valid; proposals are decided under it.', observedGeneration: generation }
          : { type: 'Valid', status: 'False', reason: 'Invalid', message: view.message.slice(0, 32768), observedGeneration: generation },
        new Date(this.#s.now()),
      );
      return status;
    };
    const result = await patchStatus<KubeObject>(
      this.#s.kc,
      GOVERNANCE_POLICIES,
      { name: key.name },
      (draft) => {
        draft.status = edit(draft.status as GovernancePolicyStatus | undefined);
        return draft;
      },
      { current: obj, fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal },
    );
    if (result.changed) {
      ctx.log.info({ valid: view.state === 'valid', generation }, view.state === 'valid' ? 'Policy is valid' : 'Policy is not usable');
    }
  }
}
