// The demo's git smart-HTTP server inside the egress target's network namespace (the real node's pod-network
// endpoint): on a bridge this test creates (10.238.<random>.0/24, never the real node's), a clone from the
// host across the bridge gets the pinned commit; the server runs inside the namespace (not on the host) and
// stop() ends it, leaving nothing behind. Needs root and `ip`; no cluster.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeEgressTarget, type EgressTarget } from '../../../dev/demo/egress-target.ts';
import { makePythonRepo, startGitHttpServerInNetns, type GitHttpServer } from '../../../dev/demo/git-http-server.ts';

const runnable = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;

function netnsPids(netns: string): string[] {
  return execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '');
}

function clone(url: string, dest: string): { status: number | null; stderr: string } {
  const r = spawnSync('git', ['clone', '-q', url, dest], { encoding: 'utf8', timeout: 30_000, env: { PATH: '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: dest, GIT_TERMINAL_PROMPT: '0' } });
  return { status: r.status, stderr: r.stderr };
}

describe.skipIf(!runnable)('the git server in the egress target network namespace (needs root)', () => {
  const bridge = `m87gt${randomBytes(3).toString('hex')}`;
  const subnet = `10.238.${randomInt(0, 256)}`;
  const work = mkdtempSync(join(tmpdir(), 'm87-git-netns-'));
  let target: EgressTarget;
  let git: GitHttpServer;
  let commit: string;

  beforeAll(async () => {
    execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    execFileSync('ip', ['link', 'set', bridge, 'up']);
    target = await startBridgeEgressTarget({ bridge, address: `${subnet}.252`, prefixLength: 24 });
    mkdirSync(join(work, 'repos', 'calc'), { recursive: true });
    ({ commit } = makePythonRepo(join(work, 'repos', 'calc')));
    git = await startGitHttpServerInNetns(join(work, 'repos'), { netns: target.netns!, host: target.host });
  }, 60_000);

  afterAll(async () => {
    await git?.stop();
    await target?.stop();
    spawnSync('ip', ['link', 'del', bridge]);
    rmSync(work, { recursive: true, force: true });
  });

  it('serves the repository across the bridge at the namespace address; the pinned commit arrives', () => {
    expect(git.host).toBe(`${subnet}.252`);
    const r = clone(git.url('calc'), join(work, 'clone'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(execFileSync('git', ['-C', join(work, 'clone'), 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim()).toBe(commit);
  });

  it('runs inside the namespace, next to the egress target, and reports the requests it served', async () => {
    expect(netnsPids(target.netns!).length).toBe(2); // the recording server and the git server
    // The host itself has no socket on the server's port: it listens only inside the namespace.
    expect(execFileSync('ss', ['-Hltn', `sport = :${git.port}`], { encoding: 'utf8' }).trim()).toBe('');
    await new Promise((r) => setTimeout(r, 200)); // request lines are flushed every 50 ms
    expect(git.requests).toContain('GET /calc/info/refs');
    expect(git.requests).toContain('POST /calc/git-upload-pack');
  });

  it('stop() ends the server by its PID: the namespace keeps only the egress target, and a clone fails', async () => {
    await git.stop();
    expect(netnsPids(target.netns!).length).toBe(1);
    expect(clone(git.url('calc'), join(work, 'clone-after-stop')).status).not.toBe(0);
  });
});
