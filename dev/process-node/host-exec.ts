// Running the host tools the process node needs (ip, nft) and making executables reachable for the Pod's
// unprivileged user. Everything here runs as root on the host.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants, copyFileSync, existsSync, linkSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export class HostCommandError extends Error {}

/** Runs a host command; rejects with its stderr when it exits non-zero. */
export function hostCommand(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 30_000, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim() || error.message;
        reject(new HostCommandError(`${file} ${args.join(' ')}: ${detail}`));
        return;
      }
      resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Whether `file` (an absolute path) can be reached and executed by any user ("others" bits). */
export function executableByOthers(file: string): boolean {
  return reachableByOthers(file, 0o005);
}

/** Whether `file` (an absolute path) can be reached and read by any user ("others" bits). */
export function readableByOthers(file: string): boolean {
  return reachableByOthers(file, 0o004);
}

function reachableByOthers(file: string, bits: number): boolean {
  try {
    if ((statSync(file).mode & bits) !== bits) return false;
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (dir === dirname(dir)) return true;
    }
  } catch {
    return false;
  }
}

/**
 * An executable path the Pod's user can run: `file` itself, or a hard link (else a copy) of it in `binDir`.
 * Needed because e.g. the toolchain's node may live under a root-only home directory.
 */
export function reachableExecutable(file: string, binDir: string): string {
  if (executableByOthers(file)) return file;
  accessSync(file, constants.X_OK);
  mkdirSync(binDir, { recursive: true, mode: 0o755 });
  const id = createHash('sha256').update(file).digest('hex').slice(0, 12);
  const target = join(binDir, `${id}-${basename(file)}`);
  if (!existsSync(target)) {
    const tmp = `${target}.${process.pid}.tmp`;
    // A hard link shares the original's mode, so link only when that already lets others run it.
    const linkable = (statSync(file).mode & 0o005) === 0o005;
    let linked = false;
    if (linkable) {
      try {
        linkSync(file, tmp);
        linked = true;
      } catch {
        linked = false;
      }
    }
    if (!linked) {
      copyFileSync(file, tmp);
      chmodSync(tmp, 0o755);
    }
    renameSync(tmp, target);
  }
  return target;
}
