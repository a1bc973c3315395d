// The image's production dependencies: `npm ci --omit=dev --ignore-scripts` from the checkout's lock file
// into a staging directory, as the Dockerfile's dependency stage does. The staged tree is kept per lock-file
// hash, so a build whose package.json and package-lock.json did not change reuses it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEPENDENCY_SOURCES } from './spec.ts';

const run = promisify(execFile);
const COMPLETE = '.m87-staged';

/** Hash of what `npm ci` reads (package.json and package-lock.json). */
export function dependencyInputsHash(root: string): string {
  const hash = createHash('sha256');
  for (const name of DEPENDENCY_SOURCES) hash.update(`${name}\0`).update(readFileSync(join(root, name))).update('\0');
  return hash.digest('hex');
}

/**
 * The directory holding `node_modules` with exactly the production dependencies of the lock file. npm uses
 * its cache first (--prefer-offline) and reaches the registry only for a package it has never fetched.
 */
export async function stageDependencies(root: string, stagingRoot: string, progress: (line: string) => void): Promise<{ dir: string; inputsHash: string; reused: boolean }> {
  const inputsHash = dependencyInputsHash(root);
  const dir = join(stagingRoot, inputsHash.slice(0, 32));
  if (existsSync(join(dir, COMPLETE))) return { dir, inputsHash, reused: true };
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const name of DEPENDENCY_SOURCES) copyFileSync(join(root, name), join(partial, name));
  progress('installing production dependencies (npm ci --omit=dev --ignore-scripts)…');
  try {
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
      cwd: partial,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, NODE_ENV: 'production' },
    });
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('npm is missing: the image build runs `npm ci`; run it through `bash hack/env.sh` or install Node 24 with npm', { cause: error });
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new Error(`npm ci --omit=dev failed in ${partial}: ${detail}`, { cause: error });
  }
  writeFileSync(join(partial, COMPLETE), `${inputsHash}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  // One staged tree is enough: drop those of earlier lock files.
  for (const name of readdirSync(stagingRoot)) if (join(stagingRoot, name) !== dir && !name.includes('.partial-')) rmSync(join(stagingRoot, name), { recursive: true, force: true });
  return { dir, inputsHash, reused: false };
}
