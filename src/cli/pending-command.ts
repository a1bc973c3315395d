import { parseArgs } from 'node:util';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { age, EXIT, outputFormat, render, table } from './output.ts';

const HELP = `Usage: m87 pending [-n namespace | -A] [-o json|yaml]

Lists proposals waiting for a human approval, with their effects, the approvals they need, whether the
approver must answer a challenge, and when they expire.
`;

export async function runPending(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_FLAGS,
      'all-namespaces': { type: 'boolean', short: 'A' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const format = outputFormat(values.output);
  const conn = connect(values);
  const client = conn.client;
  const ns = values['all-namespaces'] ? undefined : conn.namespace;
  const proposals = (await client.list('Proposal', { namespace: ns })).items.filter((p) => p.status?.phase === 'AwaitingApproval');
  const now = new Date();
  const rows = await Promise.all(
    proposals.map(async (p) => {
      const namespace = p.metadata.namespace ?? conn.namespace;
      const name = p.metadata.name ?? '';
      const d = await client.find('Decision', { namespace, name });
      return {
        namespace,
        name,
        agent: p.spec.agent,
        submittedBy: p.spec.submittedBy,
        summary: p.spec.summary,
        effects: p.spec.effects,
        requiredApprovals: d?.spec.requiredApprovals.count ?? 0,
        challenge: d?.spec.challenge !== undefined,
        reasons: d?.spec.reasons.filter((r) => r.outcome === 'REQUIRE_HUMAN').map((r) => r.code) ?? [],
        expiresAt: d?.spec.expiresAt,
        proposalHash: p.status?.proposalHash,
        age: age(p.metadata.creationTimestamp, now),
      };
    }),
  );
  if (format !== 'table') {
    process.stdout.write(render(rows, format));
    return EXIT.ok;
  }
  if (rows.length === 0) {
    process.stdout.write(ns === undefined ? 'No proposals awaiting approval.\n' : `No proposals awaiting approval in namespace ${ns}.\n`);
    return EXIT.ok;
  }
  const headers = [...(ns === undefined ? ['namespace'] : []), 'name', 'agent', 'effects', 'needs', 'challenge', 'why', 'expires', 'age'];
  process.stdout.write(
    table(
      headers,
      rows.map((r) => [
        ...(ns === undefined ? [r.namespace] : []),
        r.name,
        r.agent,
        r.effects.join(','),
        String(r.requiredApprovals),
        r.challenge ? 'yes' : 'no',
        r.reasons.join(','),
        r.expiresAt ? age(now, new Date(r.expiresAt)).replace(/^/, 'in ') : '-',
        r.age,
      ]),
    ),
  );
  return EXIT.ok;
}
