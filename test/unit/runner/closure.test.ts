import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_NODE_FLAGS } from '../../../dev/build/compile.ts';
import { ensureDist } from '../../../dev/build/ensure.ts';
import { RUNNER_PACKAGES } from '../../../src/runner/install.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

/**
 * The step containers run the runner from the copy `m87 install-runner` delivers, which holds only
 * RUNNER_PACKAGES of node_modules. Any other package reached from the runner's commands fails there with
 * ERR_MODULE_NOT_FOUND (found once in CI: the CLI dispatcher imported the Kubernetes client for its exit
 * codes). This records, through a resolve hook, every package our own code imports while `m87 <command>`
 * loads — the compiled CLI (dist/), as the step containers run it — and fails if one is outside the delivered set.
 */
function packagesLoadedBy(args: readonly string[]): { packages: string[]; status: number | null; stderr: string } {
  const hook = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    const own = ${JSON.stringify(`file://${ROOT}/dist/`)};
    registerHooks({
      resolve(specifier, context, next) {
        if (context.parentURL?.startsWith(own) && !/^(\\.|\\/|node:|file:)/.test(specifier)) {
          const parts = specifier.split('/');
          seen.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
        }
        return next(specifier, context);
      },
    });
    process.on('exit', () => process.stderr.write('\\nPACKAGES ' + JSON.stringify([...seen].sort()) + '\\n'));
  `;
  const r = spawnSync(process.execPath, [...RUNTIME_NODE_FLAGS, '--import', `data:text/javascript,${encodeURIComponent(hook)}`, resolve(ROOT, 'dist/cli/main.js'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH },
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('PACKAGES '));
  return { packages: line === undefined ? [] : (JSON.parse(line.slice('PACKAGES '.length)) as string[]), status: r.status, stderr: r.stderr };
}

describe("the runner's delivered closure", () => {
  beforeAll(() => ensureDist(ROOT), 180_000);

  it.each([
    [['step'], 'Usage: m87 step <index>'],
    [['runner', '--bogus'], 'unexpected argument'],
    [['install-runner'], 'Usage: m87 install-runner <dir>'],
  ])('m87 %j loads only the packages install-runner delivers', (args, usage) => {
    const r = packagesLoadedBy(args);
    expect(r.stderr).toContain(usage);
    expect(r.status).toBe(2);
    expect(r.packages.length).toBeGreaterThan(0); // the hook saw the runner's imports
    for (const pkg of r.packages) expect(RUNNER_PACKAGES as readonly string[]).toContain(pkg);
  });

  it('the hook would catch a command that loads the Kubernetes client', () => {
    const r = packagesLoadedBy(['tools', '--help']);
    expect(r.packages).toContain('@kubernetes/client-node');
  });
});
