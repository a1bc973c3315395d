import { parseArgs } from 'node:util';
import { isClientError, replayDecision } from '../client/index.ts';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { CliError, EXIT, outputFormat, render, table } from './output.ts';

const HELP = `Usage: m87 explain <proposal> [-n namespace] [-o json|yaml]

Re-runs the decision procedure for a decided proposal with today's GovernancePolicy and AgentProfile, at the
recorded decision time and with the submitter's session history as the cluster records it, and compares
the result with the recorded Decision: outcome, reason codes, approvals and envelope hash (DEH).
Exit codes: 0 today's policy agrees, 1 it disagrees (or error), 3 no such proposal or decision.
`;

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
  const ns = conn.namespace;

  let result;
  try {
    result = await replayDecision(conn.client, ns, name);
  } catch (err) {
    if (isClientError(err, 'NotFound')) throw new CliError(err.message.startsWith('Proposal') ? `no Proposal named "${name}" in namespace "${ns}"` : err.message, EXIT.notFound);
    throw err;
  }
  const { decision, replay } = result;

  if (format !== 'table') {
    process.stdout.write(render({ proposal: `${ns}/${name}`, agrees: replay.agrees, comparisons: replay.comparisons, reasons: replay.reasons }, format));
  } else {
    process.stdout.write(`Proposal ${ns}/${name}, decided ${decision.spec.decidedAt}\n\n`);
    process.stdout.write(table(['aspect', 'recorded', 'today', 'same'], replay.comparisons.map((c) => [c.aspect, c.recorded, c.today, c.same ? 'yes' : 'NO'])));
    process.stdout.write('\nFindings today:\n');
    for (const r of replay.reasons) process.stdout.write(`  ${r.outcome.padEnd(18)} ${r.code}: ${r.message}\n`);
    process.stdout.write(`\n${replay.agrees ? "Today's policy agrees with the recorded decision." : "Today's policy DISAGREES with the recorded decision."}\n`);
  }
  return replay.agrees ? EXIT.ok : EXIT.error;
}
