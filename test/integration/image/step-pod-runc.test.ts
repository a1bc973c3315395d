// The step Pod in the real images, without a kubelet: the Pod that buildJobPod makes is executed container by
// container under runc — its init containers in order, then the main container — with its volumes as host
// directories bound at their mountPaths (read-only where the Pod says so), /tmp a tmpfs, every container's
// own image unpacked by umoci, UID 65532, read-only root, no capabilities. The runner is delivered by the m87
// image into the tool images (git, python+pytest) and checks out a repository from a git smart-HTTP server
// on 127.0.0.1 through its egress gate, applies the patch with the image's git, runs pytest from the image,
// and the receipt and framed outputs come out as the controller will read them. Network: the containers
// share the host's loopback (runc without a network namespace) to reach the test's server; nothing else.
// Needs root, runc and umoci; skipped otherwise.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, withImageCache } from '../../../dev/image/build.ts';
import { buildToolImageLocked, TOOL_IMAGE_NAMES, toolImageRepository } from '../../../dev/image/tool-images.ts';
import type { EffectiveEnvelope } from '../../../src/api/envelope.ts';
import { Receipt } from '../../../src/api/receipt.ts';
import { buildJobPod, type JobPod, type JobPodContainer } from '../../../src/controller/job-pod.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { generateSigningKey, signDeh } from '../../../src/integrity/signing.ts';
import { collectOutputs } from '../../../src/integrity/framed-output.ts';
import { DEFAULT_CATALOGUE } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';
import { makePythonRepo, startGitHttpServer, type GitHttpServer } from '../../support/git-http-server.ts';
import { closedPort, envelope as baseEnvelope, signedAnnotations, writePodinfo } from '../../unit/runner/fixture.ts';

const isRoot = process.getuid?.() === 0;
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const runnable = isRoot && has('runc') && has('umoci');
const work = runnable ? mkdtempSync(join(tmpdir(), 'm87-step-runc-')) : '';
const UID = 65532;

describe.skipIf(!runnable)('a step Pod in the real images under runc (needs root, runc, umoci)', () => {
  const bundles = new Map<string, string>(); // image reference → unpacked bundle
  const key = generateSigningKey();
  let m87Image = '';
  let git: GitHttpServer;
  let commit: string;
  let fix: string;

  function unpack(layout: string, tag: string, reference: string): void {
    const bundle = join(work, 'bundles', String(bundles.size));
    mkdirSync(join(work, 'bundles'), { recursive: true });
    const r = spawnSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`umoci unpack ${reference}: ${r.stderr}`);
    bundles.set(reference, bundle);
  }

  beforeAll(async () => {
    const imageDir = join(work, 'image');
    const m87 = await buildImage({ imageDir });
    m87Image = m87.reference;
    unpack(m87.layout, m87.tag, m87.reference);
    await withImageCache({ imageDir }, async () => {
      for (const name of TOOL_IMAGE_NAMES) {
        const image = await buildToolImageLocked(name, { imageDir });
        unpack(image.layout, image.tag, image.reference);
      }
    });
    const repos = join(work, 'repos');
    mkdirSync(join(repos, 'calc'), { recursive: true });
    ({ commit, fix } = makePythonRepo(join(repos, 'calc')));
    git = await startGitHttpServer(repos);
  }, 900_000);

  afterAll(async () => {
    await git?.stop();
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  /** A kubelet in miniature: the Pod's containers in order under runc; the first init container failing ends the Pod. */
  async function runUnderRunc(pod: JobPod, annotations: Record<string, string>): Promise<{ exits: [string, number | null][]; terminationMessage: string; log: string }> {
    const dir = join(work, `pod-${randomBytes(4).toString('hex')}`);
    const volumes = new Map<string, string>();
    for (const v of pod.spec.volumes) {
      const host = join(dir, 'volumes', v.name);
      mkdirSync(host, { recursive: true });
      if (v.emptyDir !== undefined) chownSync(host, UID, UID);
      volumes.set(v.name, host);
    }
    writePodinfo(volumes.get('podinfo')!, annotations);
    writeFileSync(join(volumes.get('signing-key')!, 'public.pem'), key.publicKeyPem);
    const apiPort = await closedPort();
    const exits: [string, number | null][] = [];
    let terminationMessage = '';
    let log = '';
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      const bundle = bundles.get(c.image);
      if (bundle === undefined) throw new Error(`${c.name}: image ${c.image} was not built`);
      const termLog = join(dir, `${c.name}.termination-log`);
      writeFileSync(termLog, '');
      chownSync(termLog, UID, UID);
      const status = await runContainer(bundle, `${c.name}-${randomBytes(3).toString('hex')}`, c, volumes, termLog, apiPort);
      exits.push([c.name, status.status]);
      if (c.name === 'runner') {
        terminationMessage = readFileSync(termLog, 'utf8');
        log = status.stdout;
      }
      if (status.status !== 0 && c !== pod.spec.containers[0]) {
        process.stderr.write(`${c.name} failed: ${status.stderr}\n${status.stdout}\n`);
        break;
      }
    }
    return { exits, terminationMessage, log };
  }

  function runContainer(bundle: string, id: string, c: JobPodContainer, volumes: Map<string, string>, termLog: string, apiPort: number) {
    const configPath = join(bundle, 'config.json');
    const original = join(bundle, 'config.original.json');
    if (!existsSync(original)) writeFileSync(original, readFileSync(configPath));
    const config = JSON.parse(readFileSync(original, 'utf8')) as {
      process: { terminal: boolean; args: string[]; env: string[]; cwd: string; capabilities: Record<string, string[]>; noNewPrivileges: boolean };
      root: { readonly: boolean };
      mounts: { destination: string; type: string; source: string; options: string[] }[];
      linux: { namespaces: { type: string }[] };
    };
    const imageEnv = config.process.env.filter((e) => e.startsWith('PATH='));
    config.process.terminal = false;
    config.process.args = c.command;
    config.process.cwd = '/';
    config.process.noNewPrivileges = true;
    config.process.env = [...imageEnv, `KUBERNETES_SERVICE_HOST=127.0.0.1`, `KUBERNETES_SERVICE_PORT=${apiPort}`, ...c.env.map((e) => `${e.name}=${e.value}`)];
    for (const set of Object.keys(config.process.capabilities)) config.process.capabilities[set] = [];
    config.root.readonly = c.securityContext.readOnlyRootFilesystem;
    config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'network'); // the host's loopback: the test's git server
    config.mounts = [
      ...config.mounts.filter((m) => m.destination !== '/tmp'),
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: c.terminationMessagePath, type: 'bind', source: termLog, options: ['rbind', 'rw'] },
      ...c.volumeMounts.filter((m) => m.mountPath !== '/tmp').map((m) => ({ destination: m.mountPath, type: 'bind', source: volumes.get(m.name)!, options: ['rbind', m.readOnly === true ? 'ro' : 'rw'] })),
    ];
    writeFileSync(configPath, JSON.stringify(config));
    mkdirSync(join(work, 'runc'), { recursive: true });
    // Asynchronously: the git server the containers fetch from runs in this very process.
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('runc', ['--root', join(work, 'runc'), 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  function stepEnvelope(patch: string): EffectiveEnvelope {
    const bind = (tool: string, args: Record<string, string>) => {
      const spec = DEFAULT_CATALOGUE.get(tool)!;
      return { tool, args, toolHash: toolHash(spec), image: spec.image };
    };
    return baseEnvelope({
      steps: [bind('git-checkout', { repository: git.url('calc'), commit }), bind('apply-patch', { patch }), bind('run-tests', { path: 'tests' })],
      image: m87Image,
      egress: [{ host: '127.0.0.1', port: git.port }],
      effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS'],
      autonomyBudget: { maxRuntimeSeconds: 300, maxExternalIO: 10, maxWriteScope: 'sandbox' },
    });
  }

  it('git-checkout → apply-patch → run-tests in their own images: receipt Succeeded, patch and report framed with the receipt digests', async () => {
    const env = stepEnvelope(fix);
    const deh = canonicalHash(env);
    const pod = buildJobPod({
      job: { uid: 'runc-job', envelope: env, envelopeHash: deh, signature: signDeh(key.privateKeyPem, deh), keyId: key.keyId, namespace: 'team-a', name: 'fix-calc', proposalName: 'fix-calc' },
      publicKeyConfigMap: 'key',
      tools: Object.fromEntries(env.steps.map((s) => [s.tool, DEFAULT_CATALOGUE.get(s.tool)!])),
    });
    expect(pod.spec.initContainers!.map((c) => c.image)).toEqual([m87Image, ...env.steps.map((s) => s.image)]);
    for (const s of env.steps) expect(s.image!.startsWith(`${toolImageRepository(s.tool === 'run-tests' ? 'tool-python-pytest' : 'tool-git')}@`)).toBe(true);
    const started = performance.now();
    const { exits, terminationMessage, log } = await runUnderRunc(pod, signedAnnotations(key, env, 'runc-job'));
    process.stderr.write(`step-pod-runc.test: the whole Pod took ${Math.round(performance.now() - started)} ms\n`);
    if (exits.some(([, code]) => code !== 0)) process.stderr.write(`receipt: ${terminationMessage}\nlog: ${log.split('\n').filter((l) => l.startsWith('{')).join('\n')}\n`);
    expect(exits).toEqual([
      ['install-runner', 0],
      ['step-0', 0],
      ['step-1', 0],
      ['step-2', 0],
      ['runner', 0],
    ]);
    const receipt = Receipt.parse(JSON.parse(terminationMessage));
    expect(receipt).toMatchObject({ status: 'Succeeded', reasonCode: '', deh: { verified: true } });
    expect(receipt.steps.map((s) => [s.tool, s.exitCode])).toEqual([
      ['git-checkout', 0],
      ['apply-patch', 0],
      ['run-tests', 0],
    ]);
    expect(receipt.usage.externalIO).toBeGreaterThanOrEqual(2);
    const outputs = collectOutputs(log, receipt.artifacts);
    expect(outputs.find((o) => o.name === 'patch')!.bytes.toString('utf8')).toContain('+    return a + b');
    const report = outputs.find((o) => o.name === 'test-report')!.bytes.toString('utf8');
    expect(report).toMatch(/<testsuite [^>]*failures="0"/);
    expect(report).toMatch(/<testsuite [^>]*tests="2"/); // test_add (fixed) and the smoke test
  }, 900_000);
});
