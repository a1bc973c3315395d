// The shipped tools' images, without a cluster: a fresh build (layers of its own, sharing only this host's
// packages and the pip wheel cache) has exactly the digests the catalogue pins; each image runs its tool
// under runc as UID 65532 with a read-only root, no capabilities and no network; and the runner delivered by
// the m87 image's `m87 install-runner` runs inside a tool image through its bundled loader — the step Pod
// mechanism (docs/architecture.md, "Job execution"). Needs root (runc, umoci); skipped otherwise.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, withImageCache } from '../../../dev/image/build.ts';
import { buildAndImportToolImages } from '../../../dev/image/index.ts';
import { buildToolImageLocked, readToolImagesJson, TOOL_IMAGE_NAMES, type ToolImageName } from '../../../dev/image/tool-images.ts';
import { deliveredRunnerCommand } from '../../../src/api/step-pod.ts';
import { SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';

const isRoot = process.getuid?.() === 0;
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const runnable = isRoot && has('runc') && has('umoci');
const work = runnable ? mkdtempSync(join(tmpdir(), 'm87-tool-images-')) : '';

interface Mount {
  destination: string;
  source: string;
  readOnly: boolean;
}

function unpack(layout: string, tag: string, name: string): string {
  const bundle = join(work, 'bundles', name);
  mkdirSync(join(work, 'bundles'), { recursive: true });
  const r = spawnSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`umoci unpack ${name}: ${r.stderr}`);
  return bundle;
}

/** Runs `args` in the bundle under runc: the image's user, read-only root, no capabilities, no network. */
function run(bundle: string, name: string, args: readonly string[], mounts: Mount[] = []): { status: number | null; stdout: string; stderr: string } {
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
    process: { terminal: boolean; args: string[]; cwd: string; capabilities: Record<string, string[]> };
    root: { readonly: boolean };
    mounts: { destination: string; type: string; source: string; options: string[] }[];
  };
  config.process.terminal = false;
  config.process.args = [...args];
  config.process.cwd = '/';
  for (const set of Object.keys(config.process.capabilities)) config.process.capabilities[set] = [];
  config.root.readonly = true;
  // As in a job Pod: /tmp is an emptyDir, everything else of the root read-only.
  config.mounts = [
    ...config.mounts.filter((m) => m.destination !== '/tmp' && !mounts.some((x) => x.destination === m.destination)),
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    ...mounts.map((m) => ({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', m.readOnly ? 'ro' : 'rw'] })),
  ];
  writeFileSync(configPath, JSON.stringify(config));
  mkdirSync(join(work, 'runc'), { recursive: true });
  const r = spawnSync('runc', ['--root', join(work, 'runc'), 'run', '--bundle', bundle, `m87-tool-test-${process.pid}-${name}`], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!runnable)('the shipped tool images (needs root, runc, umoci)', () => {
  const built = new Map<ToolImageName, { digest: string; bundle: string }>();

  beforeAll(async () => {
    const imageDir = join(work, 'image');
    await withImageCache({ imageDir }, async () => {
      for (const name of TOOL_IMAGE_NAMES) {
        const image = await buildToolImageLocked(name, { imageDir });
        built.set(name, { digest: image.digest, bundle: unpack(image.layout, image.tag, name) });
      }
    });
  }, 600_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('a fresh build has exactly the digests the shipped catalogue pins (else: npm run image -- --tools --write-catalogue)', () => {
    const pinned = readToolImagesJson();
    for (const name of TOOL_IMAGE_NAMES) expect(`${name}@${built.get(name)!.digest}`).toBe(`${name}@${pinned[name]}`);
    const images = new Set(Object.values(SHIPPED_TOOLS).map((t) => t.image));
    for (const name of TOOL_IMAGE_NAMES) expect(images.has(`m87.local/${name}@${pinned[name]}`)).toBe(true);
  });

  it('importing them into a node refuses a build whose digest differs from the pin, before anything is imported', async () => {
    // A socket that is not containerd: an import would fail with ctr's own error, so the drift refusal must come first.
    const sock = join(work, 'not-containerd.sock');
    const server = createServer();
    await new Promise<void>((r) => server.listen(sock, () => r()));
    try {
      const pinned = { ...readToolImagesJson(), 'tool-git': `sha256:${'0'.repeat(64)}` };
      await expect(buildAndImportToolImages(sock, { imageDir: join(work, 'image'), pinned })).rejects.toThrow(
        new RegExp(`tool image tool-git: this host builds ${built.get('tool-git')!.digest}, but the catalogue pins sha256:0{64}.*--write-catalogue`),
      );
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('each image runs its tool as UID 65532 with a read-only root', () => {
    const py = run(built.get('tool-python-pytest')!.bundle, 'pytest', ['/usr/bin/python3', '-m', 'pytest', '--version']);
    expect(py.stdout + py.stderr).toMatch(/pytest 8\.4\.2/);
    expect(py.status).toBe(0);
    const git = run(built.get('tool-git')!.bundle, 'git', ['/usr/bin/git', '--version']);
    expect(git.stdout).toMatch(/^git version 2\./);
    const apply = run(built.get('tool-git')!.bundle, 'apply', ['/usr/local/bin/m87-apply-patch']);
    expect(apply.status).toBe(2);
    expect(apply.stderr).toContain('usage: m87-apply-patch -- <patch>');
    const curl = run(built.get('tool-curl')!.bundle, 'curl', ['/usr/bin/curl', '--version']);
    expect(curl.stdout).toMatch(/^curl 7\./);
    expect(run(built.get('tool-curl')!.bundle, 'id', ['/bin/sh', '-c', 'true']).status).not.toBe(0); // no shell in it
  });

  it('the runner delivered by the m87 image runs inside a tool image through its own loader', async () => {
    const m87 = await buildImage({ imageDir: join(work, 'm87-image') });
    const bundle = unpack(m87.layout, m87.tag, 'm87');
    const delivered = join(work, 'delivered');
    mkdirSync(delivered);
    chmodSync(delivered, 0o777);
    const t0 = performance.now();
    const install = run(bundle, 'install', ['m87', 'install-runner', '/m87'], [{ destination: '/m87', source: delivered, readOnly: false }]);
    process.stderr.write(`tool-images.test: install-runner under runc took ${Math.round(performance.now() - t0)} ms\n`);
    expect(install.stderr).toBe('');
    expect(install.status).toBe(0);
    // The git image has no Node and another set of libraries: the delivered closure brings its own.
    const r = run(built.get('tool-git')!.bundle, 'delivered', deliveredRunnerCommand('/m87', ['step', '--help']), [{ destination: '/m87', source: delivered, readOnly: true }]);
    expect(r.stderr).toContain('Usage: m87 step <index>');
    expect(r.status).toBe(2);
    // `step` loads the runner's whole module graph (static imports), all from the delivered copy.
    const du = spawnSync('du', ['-sm', delivered], { encoding: 'utf8' });
    process.stderr.write(`tool-images.test: delivered runner ${du.stdout.split('\t')[0]} MB\n`);
  }, 600_000);
});
