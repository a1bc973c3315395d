import { READ_ONLY_EFFECTS } from '../api/effects.ts';
import type { EffectiveEnvelope } from '../api/envelope.ts';
import { stop } from './codes.ts';

/**
 * The reversibility gate (seed §9.1 with its gaps closed): no class is acceptable only when every allowed
 * effect is read-only; REVERSIBLE needs a rollback proof; PARTIALLY_REVERSIBLE needs one to commit;
 * IRREVERSIBLE needs a human approval (the boolean true, nothing "truthy").
 */
export function checkReversibility(envelope: EffectiveEnvelope): void {
  const r = envelope.reversibility;
  switch (r.class) {
    case undefined:
      if (!envelope.effects.every((e) => READ_ONLY_EFFECTS.has(e))) {
        stop('REVERSIBILITY_CLASS_MISSING', 'envelope.reversibility.class is missing but the job has effects that are not read-only');
      }
      return;
    case 'REVERSIBLE':
      if (r.hasRollbackProof !== true) stop('ROLLBACK_PROOF_MISSING', 'envelope.reversibility: REVERSIBLE needs a rollback proof');
      return;
    case 'PARTIALLY_REVERSIBLE':
      if (r.executionMode === 'commit' && r.hasRollbackProof !== true) {
        stop('ROLLBACK_PROOF_MISSING', 'envelope.reversibility: PARTIALLY_REVERSIBLE in commit mode needs a rollback proof');
      }
      return;
    case 'IRREVERSIBLE':
      if (envelope.humanApproved !== true) stop('HUMAN_APPROVAL_MISSING', 'envelope.humanApproved: IRREVERSIBLE work needs a human approval');
      return;
    default:
      stop('REVERSIBILITY_CLASS_MISSING', 'envelope.reversibility.class is not a known class');
  }
}
