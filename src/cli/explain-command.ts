import { parseArgs } from 'node:util';
import { AgentProfile, Decision, GovernancePolicy, Job, Proposal } from '../api/kinds.ts';
import { evaluate, sessionHistoryFor, type SessionRecord } from '../governance/index.ts';
import { canonicalHash } from '../hash/canonical.ts';
import { proposalHash } from '../integrity/document-hashes.ts';
import { toolManifestHash } from '../tool-catalogue/manifest.ts';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { CliError, EXIT, outputFormat, render, table } from './output.ts';
import { M87Client } from './resources.ts';

const HELP = `Usage: m87 explain <proposal> [-n namespace] [-o json|yaml]

Re-runs the decision procedure for a decided proposal with today's GovernancePolicy and AgentProfile, at the
recorded decision time and with the submitter's session history as the cluster records it, and compares
the result with the recorded Decision: outcome, reason codes, approvals and envelope hash (DEH).
Exit codes: 0 today's policy agrees, 1 it disagrees (or error), 3 no such proposal or decision.
`;

/** Session records (authorized effects with times) of one submitter, from Decisions and Jobs in the cluster. */
async function sessionRecords(client: M87Client, submitter: string, excludeUID: string): Promise<SessionRecord[]> {
  const [decisions, jobs] = await Promise.all([client.list('Decision', Decision, undefined), client.list('Job', Job, undefined)]);
  const records: SessionRecord[] = [];
  const mine = new Map(decisions.filter((d) => d.spec.submittedBy === submitter && d.spec.proposalRef.uid !== excludeUID).map((d) => [d.spec.proposalRef.uid, d]));
  for (const d of mine.values()) {
    if (d.spec.outcome === 'ALLOW') records.push({ submittedBy: submitter, effects: d.spec.allowedEffects, at: Date.parse(d.spec.decidedAt) });
  }
  for (const j of jobs) {
    const d = mine.get(j.spec.proposalRef.uid);
    if (d && d.spec.outcome === 'REQUIRE_HUMAN') {
      records.push({ submittedBy: submitter, effects: j.spec.envelope.effects, at: Date.parse(String(j.metadata.creationTimestamp)) });
    }
  }
  return records;
}

export async function runExplain(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CONNECTION_FLAGS, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const name = positionals[0];
  if (name === undefined || positionals.length > 1) throw new CliError(`exactly one proposal name is required\n\n${HELP}`, EXIT.usage);
  const format = outputFormat(values.output);
  const conn = connect(values);
  const client = new M87Client(conn.kubeConfig);
  const ns = conn.namespace;

  const proposal = await client.get('Proposal', Proposal, ns, name);
  const decision = await client.getOptional('Decision', Decision, ns, name);
  if (!decision) throw new CliError(`proposal ${ns}/${name} has no Decision yet`, EXIT.notFound);
  const policyObj = await client.getClusterScoped('GovernancePolicy', GovernancePolicy, 'default');
  const profileObj = await client.getClusterScopedOptional('AgentProfile', AgentProfile, proposal.spec.agent);
  const uid = proposal.metadata.uid ?? '';
  const hash = proposalHash(proposal.spec);
  const decidedAt = Date.parse(decision.spec.decidedAt);
  const history = sessionHistoryFor(proposal.spec.submittedBy, await sessionRecords(client, proposal.spec.submittedBy, uid));
  const policyHash = canonicalHash(policyObj.spec);

  const result = evaluate({
    proposal: { namespace: ns, name, uid, spec: proposal.spec, hash, createdAt: Date.parse(String(proposal.metadata.creationTimestamp)) },
    profile: profileObj?.spec,
    policy: { spec: policyObj.spec, generation: policyObj.metadata.generation ?? 0, hash: policyHash },
    history: { known: true, entries: history.filter((e) => e.at <= decidedAt) },
    now: decidedAt,
    // The challenge id needs the cluster's secret, which approvers cannot read; it is not compared.
    challengeSecret: 'm87-explain',
    runnerImage: decision.spec.effectiveEnvelope?.image ?? 'unknown',
    toolManifestHash: toolManifestHash(),
  });

  const recordedCodes = decision.spec.reasons.map((r) => r.code);
  const todayCodes = result.reasons.map((r) => r.code);
  const comparisons = [
    { aspect: 'proposal hash', recorded: decision.spec.proposalHash, today: hash },
    { aspect: 'outcome', recorded: decision.spec.outcome, today: result.outcome },
    { aspect: 'reason codes', recorded: recordedCodes.join(','), today: todayCodes.join(',') },
    { aspect: 'approvals required', recorded: String(decision.spec.requiredApprovals.count), today: String(result.requiredApprovals.count) },
    { aspect: 'challenge', recorded: decision.spec.challenge ? 'yes' : 'no', today: result.challenge ? 'yes' : 'no' },
    { aspect: 'envelope hash', recorded: decision.spec.envelopeHash ?? '-', today: result.envelopeHash ?? '-' },
    { aspect: 'policy hash', recorded: decision.spec.policy.hash, today: policyHash },
    { aspect: 'engine version', recorded: decision.spec.engineVersion, today: result.engineVersion },
  ].map((c) => ({ ...c, same: c.recorded === c.today }));
  // Policy hash and engine version may change without changing the verdict; the verdict is what must agree.
  const verdictAspects = new Set(['proposal hash', 'outcome', 'reason codes', 'approvals required', 'challenge', 'envelope hash']);
  const agrees = comparisons.filter((c) => verdictAspects.has(c.aspect)).every((c) => c.same);

  if (format !== 'table') {
    process.stdout.write(render({ proposal: `${ns}/${name}`, agrees, comparisons, reasons: result.reasons }, format));
  } else {
    process.stdout.write(`Proposal ${ns}/${name}, decided ${decision.spec.decidedAt}\n\n`);
    process.stdout.write(table(['aspect', 'recorded', 'today', 'same'], comparisons.map((c) => [c.aspect, c.recorded, c.today, c.same ? 'yes' : 'NO'])));
    process.stdout.write('\nFindings today:\n');
    for (const r of result.reasons) process.stdout.write(`  ${r.outcome.padEnd(18)} ${r.code}: ${r.message}\n`);
    process.stdout.write(`\n${agrees ? "Today's policy agrees with the recorded decision." : "Today's policy DISAGREES with the recorded decision."}\n`);
  }
  return agrees ? EXIT.ok : EXIT.error;
}
