// Explaining a decision: what was recorded (every finding with the rule and the policy field behind it) and,
// where the credentials may read the policy, the profile and the submitter's history, a replay of the
// decision procedure under today's policy compared with the record. Used by `m87 explain` and the MCP server.
import { evaluate, REASON_CODES, sessionHistoryFor, type EvaluationResult, type SessionRecord } from '../governance/index.ts';
import { canonicalHash } from '../hash/canonical.ts';
import { proposalHash } from '../integrity/document-hashes.ts';
import type { M87Client } from './client.ts';
import { M87ClientError } from './errors.ts';
import type { ObjectOf } from './resources.ts';
import { catalogueOfListed, listTools } from './tools.ts';

type Decision = ObjectOf<'Decision'>;

export interface ExplainedReason {
  code: string;
  rule: string;
  outcome: string;
  message: string;
  /** The GovernancePolicy / AgentProfile / Tool field that configures the rule ('-' when fixed). */
  configuredBy: string;
}

export interface RecordedExplanation {
  namespace: string;
  name: string;
  outcome: Decision['spec']['outcome'];
  decidedAt: string;
  reasons: ExplainedReason[];
  requiredApprovals: number;
  challenge: string | undefined;
  allowedEffects: string[];
  envelopeHash: string | undefined;
  policy: { generation: number; hash: string };
  engineVersion: string;
  /** Where each code is documented. */
  documentation: string;
}

export function explainRecorded(decision: Decision): RecordedExplanation {
  return {
    namespace: decision.metadata.namespace ?? '',
    name: decision.metadata.name ?? '',
    outcome: decision.spec.outcome,
    decidedAt: decision.spec.decidedAt,
    reasons: decision.spec.reasons.map((r) => ({
      ...r,
      configuredBy: (REASON_CODES as Record<string, { field: string } | undefined>)[r.code]?.field ?? '-',
    })),
    requiredApprovals: decision.spec.requiredApprovals.count,
    challenge: decision.spec.challenge?.prompt,
    allowedEffects: decision.spec.allowedEffects,
    envelopeHash: decision.spec.envelopeHash,
    policy: decision.spec.policy,
    engineVersion: decision.spec.engineVersion,
    documentation: 'docs/policy.md lists every reason code: the rule, its outcomes and the policy field that configures it',
  };
}

export interface Comparison {
  aspect: string;
  recorded: string;
  today: string;
  same: boolean;
}

export interface Replay {
  /** Today's policy reaches the same verdict (outcome, codes, approvals, challenge, envelope). */
  agrees: boolean;
  comparisons: Comparison[];
  reasons: EvaluationResult['reasons'];
}

/** Session records (authorized effects with times) of one submitter, from Decisions and Jobs in the cluster. */
async function sessionRecords(client: M87Client, submitter: string, excludeUID: string): Promise<SessionRecord[]> {
  const [decisions, jobs] = await Promise.all([client.list('Decision'), client.list('Job')]);
  const records: SessionRecord[] = [];
  const mine = new Map(decisions.items.filter((d) => d.spec.submittedBy === submitter && d.spec.proposalRef.uid !== excludeUID).map((d) => [d.spec.proposalRef.uid, d]));
  for (const d of mine.values()) {
    if (d.spec.outcome === 'ALLOW') records.push({ submittedBy: submitter, effects: d.spec.allowedEffects, at: Date.parse(d.spec.decidedAt) });
  }
  for (const j of jobs.items) {
    const d = mine.get(j.spec.proposalRef.uid);
    if (d && d.spec.outcome === 'REQUIRE_HUMAN') {
      records.push({ submittedBy: submitter, effects: j.spec.envelope.effects, at: Date.parse(String(j.metadata.creationTimestamp)) });
    }
  }
  return records;
}

// Verdict aspects must agree; the policy hash and engine version may change without changing the verdict.
const VERDICT_ASPECTS = new Set(['proposal hash', 'outcome', 'reason codes', 'approvals required', 'challenge', 'envelope hash']);

/**
 * Re-runs the decision procedure for a decided proposal with today's GovernancePolicy, AgentProfile and Tool
 * catalogue, at the recorded decision time and with the submitter's session history as the cluster records
 * it. Needs read access to the policy, the profile, the Tools and Decisions/Jobs in all namespaces (approvers
 * and viewers have it).
 */
export async function replayDecision(client: M87Client, namespace: string, name: string): Promise<{ decision: Decision; replay: Replay }> {
  const proposal = await client.get('Proposal', { namespace, name });
  const decision = await client.find('Decision', { namespace, name });
  if (!decision) throw new M87ClientError('NotFound', `proposal ${namespace}/${name} has no Decision yet`);
  const policyObj = await client.get('GovernancePolicy', { name: 'default' });
  const profileObj = await client.find('AgentProfile', { name: proposal.spec.agent });
  const uid = proposal.metadata.uid ?? '';
  const hash = proposalHash(proposal.spec);
  const decidedAt = Date.parse(decision.spec.decidedAt);
  const history = sessionHistoryFor(proposal.spec.submittedBy, await sessionRecords(client, proposal.spec.submittedBy, uid));
  const policyHash = canonicalHash(policyObj.spec);

  const result = evaluate({
    proposal: { namespace, name, uid, spec: proposal.spec, hash, createdAt: Date.parse(String(proposal.metadata.creationTimestamp)) },
    profile: profileObj?.spec,
    policy: { spec: policyObj.spec, generation: policyObj.metadata.generation ?? 0, hash: policyHash },
    history: { known: true, entries: history.filter((e) => e.at <= decidedAt) },
    now: decidedAt,
    // The challenge id needs the cluster's secret, which approvers cannot read; it is not compared.
    challengeSecret: 'm87-explain',
    runnerImage: decision.spec.effectiveEnvelope?.image ?? 'unknown',
    // Today's catalogue, like today's policy: a tool edited since shows up as a different envelope hash.
    catalogue: catalogueOfListed(await listTools(client)),
  });

  const comparisons = [
    { aspect: 'proposal hash', recorded: decision.spec.proposalHash, today: hash },
    { aspect: 'outcome', recorded: decision.spec.outcome, today: result.outcome },
    { aspect: 'reason codes', recorded: decision.spec.reasons.map((r) => r.code).join(','), today: result.reasons.map((r) => r.code).join(',') },
    { aspect: 'approvals required', recorded: String(decision.spec.requiredApprovals.count), today: String(result.requiredApprovals.count) },
    { aspect: 'challenge', recorded: decision.spec.challenge ? 'yes' : 'no', today: result.challenge ? 'yes' : 'no' },
    { aspect: 'envelope hash', recorded: decision.spec.envelopeHash ?? '-', today: result.envelopeHash ?? '-' },
    { aspect: 'policy hash', recorded: decision.spec.policy.hash, today: policyHash },
    { aspect: 'engine version', recorded: decision.spec.engineVersion, today: result.engineVersion },
  ].map((c) => ({ ...c, same: c.recorded === c.today }));
  const agrees = comparisons.filter((c) => VERDICT_ASPECTS.has(c.aspect)).every((c) => c.same);
  return { decision, replay: { agrees, comparisons, reasons: result.reasons } };
}
