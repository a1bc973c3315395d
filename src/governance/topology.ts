import type { EffectTag } from '../api/effects.ts';
import { BIT_OTHER, effectBit, type EffectMask } from './effect-set.ts';
import type { CompiledPair } from './policy.ts';
import type { HistoryEntry } from './types.ts';

/**
 * Session topology: a submitter's effects authorized within the window, together with the proposal's,
 * must not complete a toxic pair. The session is the authenticated submitter: the agent name is not part
 * of it, so switching AgentProfiles cannot split a pair across two sessions.
 */

/** Something that authorized effects for a submitter: an ALLOW decision or an approved job. */
export interface SessionRecord {
  submittedBy: string;
  effects: readonly EffectTag[];
  /** When the effects were authorized, epoch milliseconds. */
  at: number;
}

/** The history input for one submitter, from the records the controller holds (any agent name). */
export function sessionHistoryFor(submitter: string, records: Iterable<SessionRecord>): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const r of records) {
    if (r.submittedBy !== submitter) continue;
    for (const effect of r.effects) out.push({ effect, at: r.at });
  }
  return out;
}

/**
 * Effects authorized since the window opened. The window is measured back from the earlier of the
 * proposal's creation and now, so a proposal that waited in the queue is judged at least as strictly as
 * when it arrived. Entries with an unreadable time count, unknown tags count as OTHER (fail closed).
 */
export function historyMask(entries: readonly HistoryEntry[], now: number, createdAt: number, windowMs: number): EffectMask {
  const since = Math.min(now, createdAt) - windowMs;
  let mask = 0;
  for (const e of entries) if (!(e.at < since)) mask |= effectBit(e.effect) || BIT_OTHER;
  return mask;
}

/** Pairs completed by history ∪ proposal to which the proposal contributes at least one effect. */
export function matchToxicPairs(pairs: readonly CompiledPair[], history: EffectMask, proposal: EffectMask): CompiledPair[] {
  const projected = history | proposal;
  const out: CompiledPair[] = [];
  for (const p of pairs) if ((p.mask & ~projected) === 0 && (p.mask & proposal) !== 0) out.push(p);
  return out;
}
