import type { Outcome, Reason } from '../api/decision.ts';
import { REASON_CODES, type ReasonCode } from './codes.ts';
import { moreSevere, mostSevere } from './severity.ts';

const MAX_REASONS = 64; // DecisionSpec.reasons maxItems
const MAX_MESSAGE = 2048; // Reason.message maxLength
const MAX_PROMPT = 1024; // Challenge.prompt maxLength

/** A risk the approver must acknowledge by typing `answer`; the lowest priority number wins. */
export interface ChallengeCandidate {
  priority: number;
  answer: string;
  prompt: string;
}

export const CHALLENGE_PRIORITY = { topology: 0, tripwire: 1, blindSession: 2 } as const;

/** Collects the findings of all rules; the outcome is the most severe one seen. */
export class Findings {
  readonly reasons: Reason[] = [];
  outcome: Outcome = 'ALLOW';
  challenge: ChallengeCandidate | undefined = undefined;

  add(code: ReasonCode, message: string, outcome: Outcome = REASON_CODES[code].outcomes[0]): void {
    this.reasons.push({
      code,
      rule: REASON_CODES[code].rule,
      outcome,
      message: message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE - 1) + '…' : message,
    });
    this.outcome = moreSevere(this.outcome, outcome);
  }

  offerChallenge(candidate: ChallengeCandidate): void {
    if (this.challenge !== undefined && candidate.priority >= this.challenge.priority) return;
    const prompt = candidate.prompt.length > MAX_PROMPT ? candidate.prompt.slice(0, MAX_PROMPT - 1) + '…' : candidate.prompt;
    this.challenge = { ...candidate, prompt };
  }

  /** The reasons as recorded: at most 64, the last one summarising what was left out. */
  recorded(): Reason[] {
    if (this.reasons.length <= MAX_REASONS) return this.reasons;
    const kept = this.reasons.slice(0, MAX_REASONS - 1);
    const dropped = this.reasons.slice(MAX_REASONS - 1);
    kept.push({
      code: 'REASONS_TRUNCATED',
      rule: REASON_CODES.REASONS_TRUNCATED.rule,
      outcome: mostSevere(dropped.map((r) => r.outcome)),
      message: `${dropped.length} further findings omitted (codes: ${[...new Set(dropped.map((r) => r.code))].join(', ')}).`,
    });
    return kept;
  }
}

/** Quotes a user-supplied value for a message, bounded so one field cannot crowd out the rest. */
export function quote(value: string, max = 256): string {
  return JSON.stringify(value.length > max ? value.slice(0, max) + '…' : value);
}
