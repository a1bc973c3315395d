import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRunner } from '../../../src/cli/runner-command.ts';
import { fixture, type Fixture } from './fixture.ts';

const open: Fixture[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.cleanup();
});

const ROOT = resolve(import.meta.dirname, '../../..');

describe('m87 runner (CLI entry)', () => {
  it('takes no arguments', async () => {
    expect(await runRunner(['--bogus'])).toBe(2);
  });

  it('with the real isolation checks, a host process is refused (not a Pod) and the receipt says why', async () => {
    const f = await fixture();
    open.push(f);
    const state = join(f.dir, 'state');
    mkdirSync(state);
    const r = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '-e', `import(${JSON.stringify(join(ROOT, 'src/cli/runner-command.ts'))}).then((m) => m.runRunner([])).then((c) => process.exit(c))`],
      {
        env: {
          PATH: process.env.PATH,
          M87_PODINFO_DIR: f.podinfo,
          M87_PUBLIC_KEY_FILE: f.keyFile,
          M87_STATE_DIR: state,
          M87_TERMINATION_LOG: f.terminationLog,
        },
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(r.status).toBe(2);
    const receipt = JSON.parse(readFileSync(f.terminationLog, 'utf8')) as { status: string; reasonCode: string; deh: { verified: boolean } };
    expect(receipt.status).toBe('Refused');
    expect(receipt.deh.verified).toBe(true);
    // Running as root, on a writable root filesystem, or without KUBERNETES_SERVICE_HOST: whichever is checked first.
    expect(receipt.reasonCode).toMatch(/^ISOLATION_/);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ status: 'Refused', receipt });
  });
});
