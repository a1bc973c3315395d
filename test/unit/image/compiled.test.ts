// The image runs the compiled CLI with type stripping off (dev/image/spec.ts IMAGE_ENTRYPOINT, the launcher,
// the step containers' deliveredRunnerCommand). This starts dist/cli/main.js the way the image does, with a
// module hook recording every module loaded, for the controller's and the runner's commands: each must load
// its whole graph from dist/ (and packages), and no TypeScript file at all. A control run of the sources
// shows the hook sees .ts files when they load, so the check can fail.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST_DIR, RUNTIME_NODE_FLAGS } from '../../../dev/build/compile.ts';
import { ensureDist } from '../../../dev/build/ensure.ts';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { deliveredRunnerCommand } from '../../../src/api/step-pod.ts';
import { IMAGE_ENTRYPOINT, IMAGE_WORKDIR, LAUNCHER } from '../../../dev/image/spec.ts';

const HOOK = `
  import { registerHooks } from 'node:module';
  const loaded = [];
  registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
  process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(loaded) + '\\n'));
`;

/** `node <flags> <main> <args>` with the hook; what it printed and every module URL it loaded. */
function run(flags: readonly string[], main: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const r = spawnSync(process.execPath, [...flags, '--import', `data:text/javascript,${encodeURIComponent(HOOK)}`, main, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH },
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, loaded: line === undefined ? [] : (JSON.parse(line.slice('LOADED '.length)) as string[]) };
}

const root = `${pathToFileURL(REPO_ROOT).href}/`;
const ours = (loaded: string[]): string[] => loaded.filter((u) => u.startsWith(root) && !u.startsWith(`${root}node_modules/`));
const typescript = (loaded: string[]): string[] => loaded.filter((u) => /\.[cm]?tsx?$/.test(u));
const MAIN = join(REPO_ROOT, DIST_DIR, 'cli', 'main.js');

describe('the image runs compiled JavaScript only', () => {
  beforeAll(() => ensureDist(REPO_ROOT), 180_000);

  it('every way the image starts Node runs dist/cli/main.js with type stripping off', () => {
    expect(RUNTIME_NODE_FLAGS).toEqual(['--no-experimental-strip-types']);
    expect(IMAGE_ENTRYPOINT.slice(1)).toEqual([...RUNTIME_NODE_FLAGS, `${IMAGE_WORKDIR}/${DIST_DIR}/cli/main.js`]);
    expect(LAUNCHER.split('\n')[0]).toContain(RUNTIME_NODE_FLAGS[0]);
    const step = deliveredRunnerCommand('/m87', ['step', '0']);
    expect(step.slice(4, 6)).toEqual([...RUNTIME_NODE_FLAGS, `/m87/app/${DIST_DIR}/cli/main.js`]);
  });

  it.each([
    ['controller', ['controller', '--help'], 0, 'controller/start.js'],
    ['runner', ['runner', '--bogus'], 2, 'runner/runner.js'],
    ['step', ['step'], 2, 'runner/tool-step.js'],
    ['install-runner', ['install-runner'], 2, 'runner/install.js'],
  ])('m87 %s loads its module graph from dist/, no .ts file', (_, args, status, module) => {
    const r = run(RUNTIME_NODE_FLAGS, MAIN, args);
    expect(r.stderr + r.stdout).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|ERR_MODULE_NOT_FOUND/);
    expect(r.status, r.stderr).toBe(status);
    expect(r.loaded).toContain(`${root}${DIST_DIR}/${module}`);
    expect(typescript(r.loaded)).toEqual([]);
    expect(ours(r.loaded).filter((u) => !u.startsWith(`${root}${DIST_DIR}/`))).toEqual([]);
    expect(ours(r.loaded).length).toBeGreaterThan(10);
  });

  it('the files src/ reads at run time are there: the tool catalogue’s JSON import, the console’s static page', () => {
    const probe = `
      const { SHIPPED_TOOLS } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, DIST_DIR, 'tool-catalogue', 'default-catalogue.js')).href)});
      const { readFileSync } = await import('node:fs');
      const page = readFileSync(new URL('console/static/index.html', ${JSON.stringify(`${root}${DIST_DIR}/`)}), 'utf8');
      process.stdout.write(JSON.stringify({ tools: Object.keys(SHIPPED_TOOLS).length, page: page.length }));
    `;
    const r = spawnSync(process.execPath, [...RUNTIME_NODE_FLAGS, '--input-type=module', '-e', probe], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { tools: number; page: number };
    expect(got.tools).toBeGreaterThan(0);
    expect(got.page).toBeGreaterThan(0);
  });

  it('control: the hook sees TypeScript when the sources run', () => {
    const r = run([], join(REPO_ROOT, 'src', 'cli', 'main.ts'), ['runner', '--bogus']);
    expect(r.status).toBe(2);
    expect(typescript(r.loaded)).toContain(`${root}src/runner/runner.ts`);
  });
});
