// dist/ up to date with the checkout, built only when its inputs changed (compile.ts records their hash in
// dist/). Everything that runs what the image runs goes through this: the offline image build (dev/image),
// the benchmark's controller child (bench/processes.ts) and the tests that start the compiled CLI.
//   npm run build
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { withCacheLock } from '../image/lock.ts';
import { BUILD_ROOT, buildInputsHash, compileDist, DIST_DIR, readBuildStamp } from './compile.ts';

export { BUILD_ROOT, DIST_DIR } from './compile.ts';

export interface EnsuredDist {
  /** The checkout's dist/ directory. */
  readonly dir: string;
  /** Compiled now (false: it was up to date). */
  readonly built: boolean;
  readonly seconds: number;
}

/** A build recorded by the hash of its inputs (a stamp), as ensureDist() and ensureCompiledProgram() keep theirs. */
interface StampedBuild {
  /** The hash of the build's inputs as they are now. */
  inputs(): string;
  /** The inputs hash the existing build recorded, or null (none, or unreadable). */
  recorded(): string | null;
  /** The progress line when it builds. */
  what: string;
  /** Builds and records `inputs` (the hash taken under the lock). */
  build(inputs: string): void;
}

/**
 * Builds unless the recorded stamp is the inputs' hash: under the checkout's build lock (one build at a time),
 * and checked again there (another process may just have built it). True when it built.
 */
async function buildWhenStale(root: string, progress: (line: string) => void, b: StampedBuild): Promise<boolean> {
  const fresh = (hash: string): boolean => b.recorded() === hash;
  if (fresh(b.inputs())) return false;
  const lockDir = join(root, 'node_modules', '.cache', 'm87-build');
  mkdirSync(lockDir, { recursive: true });
  return withCacheLock(lockDir, progress, () => {
    const hash = b.inputs();
    if (fresh(hash)) return Promise.resolve(false);
    progress(b.what);
    b.build(hash);
    return Promise.resolve(true);
  });
}

/** Makes `<root>/dist` the build of the checkout's current sources (one build at a time per checkout). */
export async function ensureDist(root: string = BUILD_ROOT, progress: (line: string) => void = () => {}): Promise<EnsuredDist> {
  const started = performance.now();
  const dir = join(root, DIST_DIR);
  const built = await buildWhenStale(root, progress, {
    inputs: () => buildInputsHash(root),
    recorded: () => readBuildStamp(dir),
    what: `compiling src/ to ${DIST_DIR}/ (tsc -p tsconfig.build.json)…`,
    // compileDist records the hash of what it compiled in dist/ itself.
    build: () => compileDist(root),
  });
  return { dir, built, seconds: (performance.now() - started) / 1000 };
}

/** Where ensureCompiledProgram() writes, relative to the checkout (ignored by git and eslint). */
export const PROGRAMS_DIR = 'bench/.build';

function tsFilesUnder(root: string, dirs: readonly string[]): string[] {
  return dirs
    .flatMap((dir) => (readdirSync(join(root, dir), { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[]).filter((d) => d.isFile() && d.name.endsWith('.ts')).map((d) => relative(root, join(d.parentPath, d.name))))
    .filter((f) => !f.startsWith(PROGRAMS_DIR))
    .sort();
}

/**
 * A development program (e.g. the benchmark's no-op baseline controller) compiled with everything it imports
 * (src/ included) into `<root>/bench/.build/`, paths mirroring the checkout's: the JavaScript file to run with
 * RUNTIME_NODE_FLAGS, so it runs on the same footing as the image's dist/ (no type stripper). Rebuilt when a
 * .ts file of src/, dev/ or bench/ or the compiler configuration changed. The program must not locate files
 * through its own path (dev/cluster/binaries.ts REPO_ROOT is bench/.build there).
 */
export async function ensureCompiledProgram(entry: string, root: string = BUILD_ROOT, progress: (line: string) => void = () => {}): Promise<string> {
  const out = join(root, PROGRAMS_DIR);
  const main = join(out, entry.replace(/\.ts$/, '.js'));
  const stamp = join(out, `${entry.replaceAll('/', '_')}.m87-build`);
  await buildWhenStale(root, progress, {
    inputs: () => {
      const hash = createHash('sha256').update(`${entry}\0`).update(readFileSync(join(root, 'node_modules', 'typescript', 'package.json')));
      for (const f of ['tsconfig.json', ...tsFilesUnder(root, ['src', 'dev', 'bench'])]) hash.update(`${f}\0`).update(readFileSync(join(root, f))).update('\0');
      return hash.digest('hex');
    },
    recorded: () => {
      try {
        return readFileSync(stamp, 'utf8').trim();
      } catch {
        return null;
      }
    },
    what: `compiling ${entry} and its imports to ${PROGRAMS_DIR}/ (tsc)…`,
    build: (hash) => {
      mkdirSync(out, { recursive: true });
      const config = join(out, `tsconfig.${process.pid}.json`);
      writeFileSync(config, JSON.stringify({ extends: relative(out, join(root, 'tsconfig.json')), compilerOptions: { noEmit: false, rootDir: relative(out, root), outDir: '.' }, files: [relative(out, join(root, entry))], include: [] }));
      try {
        const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { cwd: root, encoding: 'utf8', timeout: 300_000 });
        if (r.status !== 0) throw new Error(`tsc (${entry}) failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}${r.error?.message ?? ''}`);
      } finally {
        rmSync(config, { force: true });
      }
      writeFileSync(stamp, `${hash}\n`);
    },
  });
  return main;
}

if (import.meta.main) {
  const r = await ensureDist(BUILD_ROOT, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${r.dir}: ${r.built ? `built in ${r.seconds.toFixed(1)} s` : 'up to date'}\n`);
}
