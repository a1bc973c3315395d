/**
 * The step Pod contract shared by the Pod builder (src/controller/job-pod.ts), the runner
 * (src/runner/tool-step.ts, install.ts) and the process node: where the runner is delivered and how a step
 * container runs it.
 */

/** The emptyDir the first init container delivers the runner into, mounted read-only in every step container. */
export const DELIVERED_RUNNER_DIR = '/m87';

/**
 * A step container's command: the delivered Node through the delivered dynamic loader and libraries, so the
 * runner works whatever libc the tool image has (or none), running the delivered compiled CLI with type
 * stripping off, as the image runs it.
 */
export function deliveredRunnerCommand(dir: string, args: readonly string[]): string[] {
  return [`${dir}/lib/ld-linux-x86-64.so.2`, '--library-path', `${dir}/lib`, `${dir}/bin/node`, '--no-experimental-strip-types', `${dir}/app/dist/cli/main.js`, ...args];
}
