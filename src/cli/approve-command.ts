import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { approvalName, approvalObject, recordVerdict, reviewForApproval } from '../client/index.ts';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { CliError, EXIT, outputFormat, render } from './output.ts';

const help = (verb: string) => `Usage: m87 ${verb} <proposal> [-n namespace] [--comment text] [--challenge-response answer] [--yes] [-o json|yaml]

Shows what you are about to ${verb} (summary, effects, the effective envelope and the hashes) and records
an Approval with verdict ${verb === 'approve' ? 'Approve' : 'Reject'}, bound to the proposal's name, UID and hash. Your identity comes
from the API server (SelfSubjectReview). When the decision carries a challenge you must answer it.
Exit codes: 0 recorded, 1 error, 2 usage, 3 no such proposal, 4 not an approver, 5 not awaiting approval,
hash changed or already recorded.
`;

/** Kept here too: tests and the demo name approvals the way the CLI does. */
export { approvalName };

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

export function runApprove(argv: string[]): Promise<number> {
  return record(argv, 'Approve');
}

export function runReject(argv: string[]): Promise<number> {
  return record(argv, 'Reject');
}

async function record(argv: string[], verdict: 'Approve' | 'Reject'): Promise<number> {
  const verb = verdict === 'Approve' ? 'approve' : 'reject';
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CONNECTION_FLAGS,
      comment: { type: 'string' },
      'challenge-response': { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(help(verb));
    return EXIT.ok;
  }
  const name = positionals[0];
  if (name === undefined || positionals.length > 1) throw new CliError(`exactly one proposal name is required\n\n${help(verb)}`, EXIT.usage);
  const format = values.output === undefined ? undefined : outputFormat(values.output);
  const conn = connect(values);
  const ns = conn.namespace;
  const review = await reviewForApproval(conn.client, ns, name, verb);
  const { proposal, decision, approver: me } = review;

  const env = decision.spec.effectiveEnvelope;
  const out = process.stderr;
  out.write(`Proposal    ${ns}/${name}  (uid ${proposal.metadata.uid ?? '?'})\n`);
  out.write(`Summary     ${proposal.spec.summary}\n`);
  out.write(`Agent       ${proposal.spec.agent}, submitted by ${proposal.spec.submittedBy}\n`);
  out.write(`Effects     ${proposal.spec.effects.join(', ')}\n`);
  out.write(`Why         ${decision.spec.reasons.filter((r) => r.outcome !== 'ALLOW').map((r) => `${r.code}: ${r.message}`).join('\n            ') || '-'}\n`);
  if (env) {
    out.write(`Steps       ${env.steps.map((s) => `${s.tool}(${Object.keys(s.args).join(',')})`).join(' → ')}\n`);
    const b = env.autonomyBudget;
    out.write(`Budget      ${b.maxSteps} steps, ${b.maxToolCalls} tool calls, ${b.maxRuntimeSeconds}s, ${b.maxExternalIO} external I/O, write scope ${b.maxWriteScope}\n`);
    out.write(`Egress      ${env.egress.length === 0 ? 'none' : env.egress.map((e) => `${e.host}:${e.port}`).join(', ')}\n`);
    out.write(`Envelope    ${decision.spec.envelopeHash ?? '-'} (DEH)\n`);
  }
  out.write(`Hash        ${review.proposalHash}\n`);
  out.write(`Expires     ${decision.spec.expiresAt ?? '-'}\n`);
  out.write(`You         ${me.username}\n`);

  let challengeResponse = values['challenge-response'];
  if (verdict === 'Approve' && decision.spec.challenge && challengeResponse === undefined) {
    if (!process.stdin.isTTY) throw new CliError(`this decision has a challenge: ${decision.spec.challenge.prompt} (pass --challenge-response)`, EXIT.usage);
    challengeResponse = (await ask(`Challenge   ${decision.spec.challenge.prompt}\n> `)).trim();
  }
  if (!values.yes) {
    if (!process.stdin.isTTY) throw new CliError(`refusing to ${verb} without confirmation: pass --yes`, EXIT.usage);
    const answer = (await ask(`${verdict} ${ns}/${name}? [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') {
      out.write('Nothing recorded.\n');
      return EXIT.error;
    }
  }

  const options = { comment: values.comment, challengeResponse };
  await recordVerdict(conn.client, review, verdict, options);
  const body = approvalObject(review, verdict, options); // what was sent, for -o json|yaml
  if (format !== undefined && format !== 'table') process.stdout.write(render(body, format));
  else process.stdout.write(`approval.governance.m87.io/${body.metadata.name} created (${verdict} ${ns}/${name} as ${me.username})\n`);
  return EXIT.ok;
}
