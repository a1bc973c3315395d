// Running host tools (ip, iptables, ipset, ctr, umount) with their output captured, and an error that carries
// the command and its stderr when they fail.
import { execFile } from 'node:child_process';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

export function run(binary: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(binary, args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim() !== '' ? stderr.trim() : error.message;
        reject(new Error(`${binary} ${args.join(' ')}: ${detail}`, { cause: error }));
        return;
      }
      resolve({ stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run, but a failure is returned as its message instead of thrown (teardown collects, never stops). */
export async function attempt(binary: string, args: readonly string[], options: { input?: string } = {}): Promise<string | undefined> {
  try {
    await run(binary, args, options);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
