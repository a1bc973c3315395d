import { defaultRunnerEnvironment, runJob } from '../runner/runner.ts';

const USAGE = `Usage: m87 runner

Runs the governance job of this Pod (only inside a job Pod created by the m87 controller). Reads
$M87_PODINFO_DIR (one downward-API file per annotation: envelope, envelope-hash, signature, key-id,
job-uid), $M87_PUBLIC_KEY_FILE and $M87_WORKSPACE, verifies the signed envelope and the
Pod's isolation, runs the steps, and writes the receipt to $M87_TERMINATION_LOG (default
/dev/termination-log). Exit code 0 when every step succeeded, 1 when a step failed, 2 when the job was
refused, 3 when the receipt could not be written.
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
  const outcome = await runJob(defaultRunnerEnvironment());
  return outcome.exitCode;
}
