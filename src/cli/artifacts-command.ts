import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fetchJobOutputs } from '../client/index.ts';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { EXIT, render, table } from './output.ts';

const HELP = `Usage: m87 artifacts <proposal> [-n namespace] [-o DIR | -o json|yaml]

The declared outputs of a proposal's Job (a patch, a test report…), as the controller stored them once its
Pod finished. Every output is checked against the SHA-256 the runner's receipt (Job.status.receipt) lists
before anything is printed or written; a difference is an error and nothing is written.
  -o DIR        write each output to DIR/<step>/<name> (never overwrites a file)
  -o json|yaml  the list with digests
`;

export async function runArtifacts(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CONNECTION_FLAGS, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const proposal = positionals[0];
  if (proposal === undefined || positionals.length > 1) {
    process.stderr.write(HELP);
    return EXIT.usage;
  }
  const conn = connect(values);
  const { job, outputs } = await fetchJobOutputs(conn.client, { namespace: conn.namespace, proposal });
  const listed = outputs.map((o) => ({ step: o.step, name: o.name, path: o.path, size: o.bytes.length, sha256: o.sha256 }));
  const out = values.output;
  if (out === 'json' || out === 'yaml') {
    process.stdout.write(render({ job, outputs: listed }, out));
    return EXIT.ok;
  }
  if (out !== undefined && out !== '' && out !== 'table') {
    for (const o of outputs) {
      const dir = join(out, String(o.step));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, o.name), o.bytes, { flag: 'wx' });
      process.stdout.write(`${join(dir, o.name)}  ${o.bytes.length} bytes  sha256:${o.sha256}\n`);
    }
    return EXIT.ok;
  }
  process.stdout.write(`Job ${job.name}: ${job.phase ?? 'Pending'}${job.reason ? ` (${job.reason})` : ''}\n`);
  if (listed.length === 0) {
    process.stdout.write('No declared outputs.\n');
    return EXIT.ok;
  }
  process.stdout.write(table(['step', 'name', 'size', 'sha256'], listed.map((o) => [String(o.step), o.name, String(o.size), o.sha256])));
  return EXIT.ok;
}
