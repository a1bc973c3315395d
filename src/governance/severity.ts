import type { Outcome } from '../api/decision.ts';

/** DENY > NEED_MORE_EVIDENCE > REQUIRE_HUMAN > ALLOW: the decision is the most severe finding. */
export const SEVERITY: Readonly<Record<Outcome, number>> = {
  ALLOW: 0,
  REQUIRE_HUMAN: 1,
  NEED_MORE_EVIDENCE: 2,
  DENY: 3,
};

export function moreSevere(a: Outcome, b: Outcome): Outcome {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

export function mostSevere(outcomes: Iterable<Outcome>): Outcome {
  let worst: Outcome = 'ALLOW';
  for (const o of outcomes) worst = moreSevere(worst, o);
  return worst;
}
