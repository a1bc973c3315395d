// The offline-built m87 image, end to end without a cluster: two independent builds give the same digest;
// the image imports into a containerd (a temporary one this test starts, with its own root, state and
// socket) where it resolves by tag and by digest; and its root filesystem runs `m87` under runc as UID
// 65532 with a read-only root, no capabilities and no network — proving the Node binary finds every
// shared library it needs in the image. Needs root (containerd, runc); skipped otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, type BuiltImage } from '../../../dev/image/build.ts';
import { importImage, listImages } from '../../../dev/image/containerd.ts';
import { IMAGE_CMD, IMAGE_ENTRYPOINT, IMAGE_ENV, IMAGE_USER, IMAGE_WORKDIR } from '../../../dev/image/spec.ts';

const isRoot = process.getuid?.() === 0;
const progress = process.env.M87_VERBOSE === '1' ? (line: string): void => void process.stderr.write(`image test: ${line}\n`) : undefined;
const work = isRoot ? mkdtempSync(join(tmpdir(), 'm87-image-test-')) : '';

function need(binary: string, hint: string): void {
  if (spawnSync('sh', ['-c', `command -v ${binary}`]).status !== 0) throw new Error(`${binary} is missing: ${hint}`);
}

interface TemporaryContainerd {
  readonly address: string;
  readonly child: ChildProcess;
  readonly log: string;
}

/** containerd with everything under `dir`; the CRI plugin is off (an import needs only the image services). */
async function startContainerd(dir: string): Promise<TemporaryContainerd> {
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      '',
    ].join('\n'),
  );
  const log = join(dir, 'containerd.log');
  const child = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.on('exit', () => writeFileSync(log, output));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`containerd exited (${child.exitCode}): ${output.split('\n').slice(-5).join(' | ')}`);
    if (existsSync(address) && spawnSync('ctr', ['--address', address, 'version']).status === 0) return { address, child, log };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`containerd did not serve ${address} within 20 s: ${output.split('\n').slice(-5).join(' | ')}`);
}

async function stopContainerd(containerd: TemporaryContainerd): Promise<void> {
  if (containerd.child.exitCode !== null || containerd.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => containerd.child.once('exit', () => resolve()));
  containerd.child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!killed) {
    containerd.child.kill('SIGKILL');
    await exited;
  }
}

interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `args` in the unpacked image under runc: its own user, read-only root, no capabilities, no network. */
function runInImage(bundle: string, name: string, args?: readonly string[]): RunResult {
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
    process: { terminal: boolean; args: string[]; capabilities: Record<string, string[]> };
    root: { readonly: boolean };
  };
  config.process.terminal = false;
  if (args) config.process.args = [...args];
  for (const set of Object.keys(config.process.capabilities)) config.process.capabilities[set] = [];
  config.root.readonly = true;
  writeFileSync(configPath, JSON.stringify(config));
  mkdirSync(join(work, 'runc'), { recursive: true });
  const r = spawnSync('runc', ['--root', join(work, 'runc'), 'run', '--bundle', bundle, `m87-image-test-${process.pid}-${name}`], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!isRoot)('the offline-built m87 image (needs root)', () => {
  let image: BuiltImage;
  let bundle: string;
  let originalConfig: string;

  beforeAll(async () => {
    need('containerd', 'install it as root with `apt-get install containerd`');
    need('ctr', 'install it as root with `apt-get install containerd`');
    need('runc', 'install it as root with `apt-get install runc`');
    need('umoci', 'install it as root with `apt-get install umoci`');
    // A build of its own (not the shared ~/.cache/m87/image), so the digest comparison below is between two
    // builds that share nothing but the checkout and the Node binary.
    image = await buildImage({ imageDir: join(work, 'image'), ...(progress ? { progress } : {}) });
    bundle = join(work, 'bundle');
    const unpack = spawnSync('umoci', ['unpack', '--image', `${image.layout}:${image.tag}`, bundle], { encoding: 'utf8', timeout: 120_000 });
    if (unpack.status !== 0) throw new Error(`umoci unpack failed: ${unpack.stderr}`);
    originalConfig = readFileSync(join(bundle, 'config.json'), 'utf8');
  }, 600_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('has the same digest as an independent build of the same checkout (the shared cache)', async () => {
    const shared = await buildImage(progress ? { progress } : {});
    expect(shared.digest).toBe(image.digest);
    expect(shared.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    expect(image.size).toBeGreaterThan(20e6);
    // A second build of unchanged inputs reuses every layer.
    const again = await buildImage({ imageDir: join(work, 'image') });
    expect(again.digest).toBe(image.digest);
    expect(again.layers.every((l) => l.cached)).toBe(true);
  }, 600_000);

  it('imports into containerd (namespace k8s.io) and resolves there by tag and by digest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm87-ctd-'));
    let containerd: TemporaryContainerd | undefined;
    try {
      containerd = await startContainerd(dir);
      const imported = await importImage(image, { address: containerd.address });
      expect(imported).toEqual({ repository: 'm87.local/m87', reference: `m87.local/m87@${image.digest}`, digest: image.digest, taggedReference: `m87.local/m87:${image.tag}` });
      const images = await listImages(containerd.address, 'k8s.io');
      expect(images.get(imported.reference)).toBe(image.digest);
      expect(images.get(imported.taggedReference)).toBe(image.digest);
      const check = spawnSync('ctr', ['--address', containerd.address, '--namespace', 'k8s.io', 'images', 'check', `name==${imported.taggedReference}`], { encoding: 'utf8' });
      expect(check.stdout).toMatch(/complete \(\d+\/\d+\).*\btrue\b/);
      // Importing again changes nothing.
      await expect(importImage(image, { address: containerd.address })).resolves.toEqual(imported);
    } finally {
      if (containerd) await stopContainerd(containerd);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(containerd?.child.exitCode !== null || containerd?.child.signalCode !== null).toBe(true);
  }, 300_000);

  it('refuses to import into a containerd that is not there, saying so', async () => {
    await expect(importImage(image, { address: join(work, 'no-such.sock') })).rejects.toThrow(/no containerd socket at .*no-such\.sock/);
  });

  it('carries the Dockerfile config: entrypoint, command, user, env, workdir', () => {
    const config = JSON.parse(originalConfig) as { process: { args: string[]; user: { uid: number; gid: number }; env: string[]; cwd: string } };
    expect(config.process.args).toEqual([...IMAGE_ENTRYPOINT, ...IMAGE_CMD]);
    expect(`${config.process.user.uid}:${config.process.user.gid}`).toBe(IMAGE_USER);
    expect(config.process.env).toEqual(expect.arrayContaining(Object.entries(IMAGE_ENV).map(([k, v]) => `${k}=${v}`)));
    expect(config.process.cwd).toBe(IMAGE_WORKDIR);
    expect(existsSync(join(bundle, 'rootfs', 'bin', 'sh'))).toBe(false);
  });

  it('runs its default command under runc: read-only root, UID 65532, no capabilities', () => {
    writeFileSync(join(bundle, 'config.json'), originalConfig);
    const r = runInImage(bundle, 'default');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: m87 <command>/);
  });

  it('runs `m87 runner --help` through the launcher on PATH (the job Pod contract `m87 runner`)', () => {
    writeFileSync(join(bundle, 'config.json'), originalConfig);
    const r = runInImage(bundle, 'launcher', ['m87', 'runner', '--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: m87 runner\n/);
  });

  it('gives Node 24 with its libraries from the image, the nonroot identity and a read-only root', () => {
    writeFileSync(join(bundle, 'config.json'), originalConfig);
    const probe = `
      const fs = require('node:fs'), os = require('node:os');
      let write = 'ok';
      try { fs.writeFileSync('/app/x', 'x'); } catch (e) { write = e.code; }
      console.log(JSON.stringify({ node: process.versions.node, uid: process.getuid(), gid: process.getgid(), user: os.userInfo().username, write, env: process.env.NODE_ENV, tmp: fs.statSync('/tmp').mode & 0o7777 }));`;
    const r = runInImage(bundle, 'probe', ['/nodejs/bin/node', '-e', probe]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(seen).toEqual({ node: image.nodeVersion, uid: 65532, gid: 65532, user: 'nonroot', write: 'EROFS', env: 'production', tmp: 0o1777 });
    expect(image.nodeVersion.split('.')[0]).toBe('24');
  });
});
