import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { StepState } from './step-state.ts';

/**
 * `m87 install-runner <dir>`: the first init container of a step Pod (in the m87 image) delivers the
 * runner's closure into an emptyDir that every step container mounts read-only at the same path: the Node
 * binary, every shared library this very process has mapped (the dynamic loader included, so the step
 * containers run it as `<dir>/lib/ld-linux-x86-64.so.2 --library-path <dir>/lib <dir>/bin/node …`
 * whatever libc their image has, or none) and the application (dist — the compiled code the image runs —,
 * package.json and the runner's production packages). It also
 * records the job's start, from which the runtime budget counts across every container.
 *
 * M87_RUNNER_DELIVERY=link (set only by the dev process node's image map, which has no mount namespaces and
 * runs step containers on the host) links instead of copying.
 */

/** The regular files of shared objects this process has mapped (from /proc/self/maps). */
export function mappedLibraries(maps: string = readFileSync('/proc/self/maps', 'utf8')): string[] {
  const out = new Set<string>();
  for (const line of maps.split('\n')) {
    const path = line.slice(line.indexOf('/')).trim();
    if (line.indexOf('/') < 0 || !/\.so(\.\d+)*$/.test(path)) continue;
    out.add(path);
  }
  return [...out].sort();
}

/**
 * The packages the runner's own code imports (src/runner, src/api, src/integrity, src/tool-catalogue, src/hash
 * and the CLI entry), none of which has dependencies of its own. Copying these instead of the whole
 * node_modules (≈ 106 MB, mostly the controller's client) keeps the per-Pod copy small;
 * test/integration/image/tool-images.test.ts loads the runner's whole module graph from the delivered copy.
 */
export const RUNNER_PACKAGES = ['zod', 'canonicalize', 'yaml'] as const;

export function installRunner(target: string, env: Readonly<Record<string, string | undefined>>): string[] {
  const dir = resolve(target);
  const appRoot = resolve(import.meta.dirname, '..', '..');
  const done: string[] = [];
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'lib'), { recursive: true });
  const link = env.M87_RUNNER_DELIVERY === 'link';
  const place = (from: string, to: string, recursive = false): void => {
    if (link) symlinkSync(from, to);
    else if (recursive) cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    else {
      copyFileSync(from, to); // follows symlinks: the library's file, under the name the loader looks for
      chmodSync(to, statSync(from).mode & 0o755);
    }
    done.push(to);
  };
  place(process.execPath, join(dir, 'bin', 'node'));
  for (const lib of mappedLibraries()) {
    const to = join(dir, 'lib', basename(lib));
    if (!existsSync(to)) place(lib, to);
  }
  mkdirSync(join(dir, 'app'), { recursive: true });
  place(join(appRoot, 'package.json'), join(dir, 'app', 'package.json'));
  // The compiled code this process runs from (the image's /app/dist); step containers run app/dist/cli/main.js.
  place(join(appRoot, 'dist'), join(dir, 'app', 'dist'), true);
  if (link) place(join(appRoot, 'node_modules'), join(dir, 'app', 'node_modules'));
  else {
    mkdirSync(join(dir, 'app', 'node_modules'), { recursive: true });
    for (const pkg of RUNNER_PACKAGES) place(join(appRoot, 'node_modules', pkg), join(dir, 'app', 'node_modules', pkg), true);
  }
  const stateDir = env.M87_STATE_DIR;
  if (stateDir !== undefined && stateDir !== '') new StepState(stateDir).writeRun({ startedAtMs: Date.now() });
  return done;
}
