import { finishJob } from '../runner/finish.ts';
import { installRunner } from '../runner/install.ts';
import { defaultRunnerEnvironment } from '../runner/runner.ts';
import { runToolStep } from '../runner/tool-step.ts';

const USAGE = `Usage: m87 runner

The final container of a job's step Pod (only inside a Pod created by the m87 controller; the steps ran
before it, each with \`m87 step <i>\` in its tool's image). Reads $M87_PODINFO_DIR (one downward-API file
per annotation: envelope, envelope-hash, signature, key-id, job-uid), $M87_PUBLIC_KEY_FILE and
$M87_STATE_DIR (the steps' records and outputs), verifies the signed envelope and the Pod's isolation,
writes the receipt to $M87_TERMINATION_LOG (default /dev/termination-log) and prints the declared outputs
as framed blocks. Exit code 0 when every step succeeded, 1 when a step failed, 2 when the job was refused,
3 when the receipt could not be written.
`;

/** `m87 runner`: takes no arguments; everything comes from the Pod. */
export async function runRunner(argv: readonly string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`m87 runner: unexpected argument ${JSON.stringify(argv[0])}\n\n${USAGE}`);
    return 2;
  }
  return (await finishJob(defaultRunnerEnvironment())).exitCode;
}

/** `m87 step <i>`: step i of a step Pod, in its tool's container. */
export async function runStep(argv: readonly string[]): Promise<number> {
  const index = argv.length === 1 && /^\d{1,2}$/.test(argv[0]!) ? Number(argv[0]) : undefined;
  if (index === undefined) {
    process.stderr.write('Usage: m87 step <index>\n\nRuns step <index> of the job in this Pod (only inside a step Pod created by the m87 controller).\n');
    return 2;
  }
  return runToolStep(index, defaultRunnerEnvironment());
}

/** `m87 install-runner <dir>`: copies the runner's closure into <dir> for the step containers. */
export async function runInstallRunner(argv: readonly string[]): Promise<number> {
  if (argv.length !== 1 || argv[0]!.startsWith('-')) {
    process.stderr.write('Usage: m87 install-runner <dir>\n');
    return 2;
  }
  const placed = installRunner(argv[0]!, process.env);
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: `runner delivered into ${argv[0]!}`, files: placed.length })}\n`);
  return Promise.resolve(0);
}
