// dist/ up to date with the checkout, built only when its inputs changed (compile.ts records their hash in
// dist/). Everything that runs what the image runs goes through this: the offline image build (dev/image),
// the benchmark's controller child (bench/processes.ts) and the tests that start the compiled CLI.
//   npm run build
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
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

/** Makes `<root>/dist` the build of the checkout's current sources (one build at a time per checkout). */
export async function ensureDist(root: string = BUILD_ROOT, progress: (line: string) => void = () => {}): Promise<EnsuredDist> {
  const started = performance.now();
  const dir = join(root, DIST_DIR);
  const fresh = (): boolean => readBuildStamp(dir) === buildInputsHash(root);
  if (fresh()) return { dir, built: false, seconds: (performance.now() - started) / 1000 };
  const lockDir = join(root, 'node_modules', '.cache', 'm87-build');
  mkdirSync(lockDir, { recursive: true });
  return withCacheLock(lockDir, progress, () => {
    if (fresh()) return Promise.resolve({ dir, built: false, seconds: (performance.now() - started) / 1000 });
    progress(`compiling src/ to ${DIST_DIR}/ (tsc -p tsconfig.build.json)…`);
    compileDist(root);
    return Promise.resolve({ dir, built: true, seconds: (performance.now() - started) / 1000 });
  });
}

if (import.meta.main) {
  const r = await ensureDist(BUILD_ROOT, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`${r.dir}: ${r.built ? `built in ${r.seconds.toFixed(1)} s` : 'up to date'}\n`);
}
