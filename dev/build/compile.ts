// The product's build: src/ compiled to JavaScript in dist/ (tsc -p tsconfig.build.json) plus the files of
// src/ the code reads at run time (the console's static page, the tool catalogue's JSON). The m87 image ships
// dist/ and runs it with type stripping off (`node --no-experimental-strip-types dist/cli/main.js`): Node's
// type stripper (amaro, a WASM module) costs ~25 MiB RSS in every process that loads a .ts file.
//   node dev/build/compile.ts        (the Dockerfile's build stage; `npm run build` goes through ensure.ts)
// This file imports only node: modules, because the Dockerfile's build stage copies just it (BUILD_SOURCES).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** The checkout this file belongs to (dev/build → repo root). */
export const BUILD_ROOT = resolve(import.meta.dirname, '..', '..');
/** Where the build writes, relative to the checkout (the image's /app/dist). */
export const DIST_DIR = 'dist';
export const BUILD_CONFIG = 'tsconfig.build.json';
/** What the build reads, relative to the checkout: the Dockerfile's build stage copies exactly these. */
export const BUILD_SOURCES: readonly string[] = ['package.json', 'package-lock.json', 'tsconfig.json', BUILD_CONFIG, 'src', 'dev/build/compile.ts'];
/** The build's record of its inputs' hash, in dist/ (ensure.ts rebuilds when the inputs changed). */
export const BUILD_STAMP = '.m87-build';
/** How the image runs the build's output: no .ts can load (a stray one fails with ERR_UNKNOWN_FILE_EXTENSION). */
export const RUNTIME_NODE_FLAGS: readonly string[] = ['--no-experimental-strip-types'];

/**
 * Where a file of src/ ends up in the build, or null if the build leaves it out: `src/a/b.ts` → `dist/a/b.js`
 * (compiled), any other file → its copy under dist/ (read at run time), tests and dotfiles → null. The same
 * rule as .dockerignore's for src/ (test/unit/image/build-context.test.ts keeps them equal).
 */
export function distOutput(srcPath: string): string | null {
  const parts = srcPath.split('/');
  if (parts[0] !== 'src' || parts.length < 2) throw new Error(`${srcPath} is not a file of src/`);
  const name = parts.at(-1) ?? '';
  if (parts.some((p) => p.startsWith('.')) || /\.test\.ts$/.test(name)) return null;
  if (/\.(d\.ts|mts|cts|tsx)$/.test(name)) throw new Error(`${srcPath}: the build compiles plain .ts files only`);
  const rest = parts.slice(1).join('/');
  return `${DIST_DIR}/${name.endsWith('.ts') ? `${rest.slice(0, -3)}.js` : rest}`;
}

/** Every file under src/ of `root`, relative to `root`, sorted. */
export function srcFiles(root: string): string[] {
  return (readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)).split('\\').join('/'))
    .sort();
}

/** Hash of everything the build's output depends on: the sources it uses, its configuration, this builder and the compiler's version. */
export function buildInputsHash(root: string): string {
  const hash = createHash('sha256');
  const typescript = (JSON.parse(readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  hash.update(`typescript ${typescript}\0`);
  for (const path of ['tsconfig.json', BUILD_CONFIG, 'dev/build/compile.ts', ...srcFiles(root).filter((f) => distOutput(f) !== null)]) {
    hash.update(`${path}\0`).update(readFileSync(join(root, path))).update('\0');
  }
  return hash.digest('hex');
}

/** The inputs hash a built dist/ records, or null. */
export function readBuildStamp(distDir: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(distDir, BUILD_STAMP), 'utf8')) as { inputs?: unknown }).inputs as string;
  } catch {
    return null;
  }
}

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isDirectory(): boolean }[])
    .filter((d) => !d.isDirectory())
    .map((d) => relative(dir, join(d.parentPath, d.name)).split('\\').join('/'))
    .sort();
}

/**
 * Builds `<root>/dist` afresh: compiles into a staging directory, copies the run-time files, checks that the
 * output is exactly what distOutput() says (nothing missing, nothing extra), then swaps it in. The caller
 * makes sure no other build of the same checkout runs at the same time (ensure.ts holds a lock).
 */
export function compileDist(root: string = BUILD_ROOT): { dir: string; inputs: string; files: number } {
  const inputs = buildInputsHash(root);
  const out = join(root, DIST_DIR);
  const staging = `${out}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) throw new Error(`${tsc} is missing: the build needs the dev dependencies (npm ci)`);
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, BUILD_CONFIG), '--outDir', staging], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`tsc -p ${BUILD_CONFIG} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}${r.error?.message ?? ''}`);
  }
  const expected: string[] = [];
  for (const file of srcFiles(root)) {
    const target = distOutput(file);
    if (target === null) continue;
    expected.push(target.slice(DIST_DIR.length + 1));
    // Files that are not compiled are copied as they are (tsc's copy of an imported JSON file is replaced by the original bytes).
    if (!file.endsWith('.ts')) {
      const to = join(staging, target.slice(DIST_DIR.length + 1));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(root, file), to);
    }
  }
  const got = filesUnder(staging);
  const missing = expected.filter((f) => !got.includes(f));
  const extra = got.filter((f) => !expected.includes(f));
  if (missing.length > 0 || extra.length > 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`the build's output is not what distOutput() describes: missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}`);
  }
  writeFileSync(join(staging, BUILD_STAMP), `${JSON.stringify({ inputs })}\n`);
  const old = `${out}.old-${process.pid}`;
  if (existsSync(out)) renameSync(out, old);
  renameSync(staging, out);
  rmSync(old, { recursive: true, force: true });
  return { dir: out, inputs, files: expected.length };
}

if (import.meta.main) {
  const built = compileDist(process.cwd());
  process.stdout.write(`built ${relative(process.cwd(), built.dir) || '.'}: ${built.files} files (inputs ${built.inputs.slice(0, 12)})\n`);
}
