import { EXFIL_ADJACENT_MASK, tagsOf } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import { CHALLENGE_PRIORITY, quote, type Findings } from '../findings.ts';
import { historyMask, matchToxicPairs } from '../topology.ts';

export const SESSION_UNKNOWN_ANSWER = 'session_history_unknown';

/**
 * Session topology over the submitter's authorized effects in the window plus this proposal's. Every
 * completed pair is reported. Unknown history still checks the proposal's own effects, and escalates
 * anything exfil-adjacent.
 */
export function topologyRule(ctx: RuleContext, out: Findings): void {
  const { history, now, proposal } = ctx.input;
  const submitter = ctx.spec.submittedBy;
  const windowS = ctx.policy.spec.session.windowSeconds;
  const past = history.known ? historyMask(history.entries, now, proposal.createdAt, ctx.policy.windowMs) : 0;
  for (const pair of matchToxicPairs(ctx.policy.pairs, past, ctx.effects)) {
    const earlier = tagsOf(pair.mask & past & ~ctx.effects);
    const origin = earlier.length > 0 ? `${earlier.join(', ')} authorized for this submitter within ${windowS}s` : 'all in this proposal';
    out.add('TOXIC_TOPOLOGY', `Toxic topology ${pair.name} (${pair.effects.join(' + ')}) for ${quote(submitter)}: ${origin}.`, pair.outcome);
    if (pair.outcome === 'REQUIRE_HUMAN') {
      out.offerChallenge({
        priority: CHALLENGE_PRIORITY.topology,
        answer: pair.name,
        prompt: `This proposal completes the toxic topology ${pair.name} (${pair.effects.join(' + ')}) for ${submitter} within ${windowS}s. Type the topology name exactly to acknowledge the risk.`,
      });
    }
  }
  if (!history.known && (ctx.effects & EXFIL_ADJACENT_MASK) !== 0) {
    out.add(
      'SESSION_HISTORY_UNKNOWN',
      `The session history of ${quote(submitter)} is unknown, so toxic topologies cannot be ruled out for ${tagsOf(ctx.effects & EXFIL_ADJACENT_MASK).join(', ')}.`,
    );
    out.offerChallenge({
      priority: CHALLENGE_PRIORITY.blindSession,
      answer: SESSION_UNKNOWN_ANSWER,
      prompt: `The recent effects of ${submitter} could not be read, so toxic topologies cannot be ruled out. Type ${SESSION_UNKNOWN_ANSWER} to acknowledge the risk.`,
    });
  }
}
