// Init containers on the process node: run one after the other, each to completion, sharing emptyDir volumes
// with the main container; the first that fails fails the Pod and nothing after it starts; their statuses are
// reported as a kubelet reports them.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessNode, type ProcessNode } from '../../../dev/process-node/process-node.ts';
import type { ContainerSpec, PodLike } from '../../../dev/process-node/pod-types.ts';
import { clusterInfo, clusterKubeConfig, testNamespace } from '../../support/kube.ts';
import { createPod, testImageMap, testPod, waitForPhase } from './pod-factory.ts';

const kc = clusterKubeConfig('admin');
const server = new URL(clusterInfo().server);
const nodeName = `m87-pn-init-${randomBytes(3).toString('hex')}`;
const ns = await testNamespace('pn-init');

/** Appends `<name>` to $ORDER (in the shared volume); exits with `code`. */
const appender = (name: string, code = 0): string =>
  `const fs=require('fs');fs.appendFileSync(process.env.ORDER, '${name}\\n');fs.writeFileSync(process.env.TERMINATION_LOG, '${name} done');process.exit(${code})`;

function podWithInits(name: string, inits: { name: string; code?: number }[]): PodLike {
  const base = testPod({
    name,
    namespace: ns,
    nodeName,
    script: `const fs=require('fs');fs.appendFileSync(process.env.ORDER,'main\\n');fs.writeFileSync(process.env.TERMINATION_LOG, fs.readFileSync(process.env.ORDER,'utf8'))`,
    // A path in an env value is what the process node rewrites to the volume's host directory.
    env: [{ name: 'ORDER', value: '/shared/order' }],
    volumes: [{ name: 'shared', emptyDir: {} }],
    volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
  });
  const main = base.spec.containers[0]!;
  const initContainers: ContainerSpec[] = inits.map((i) => ({ ...main, name: i.name, command: ['node', '-e', appender(i.name, i.code)] }));
  return { ...base, spec: { ...base.spec, initContainers } };
}

describe('process node: init containers', () => {
  let node: ProcessNode;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'm87-pn-init-'));
    node = await startProcessNode({ kubeConfig: kc, nodeName, stateDir, imageMap: testImageMap, apiServer: { host: server.hostname, port: Number(server.port) }, logger: pino({ level: 'warn' }), deleteNodeOnStop: true });
  });

  afterAll(async () => {
    await node?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs them in order before the main container, which sees what they left in the shared volume', async () => {
    await createPod(kc, podWithInits('ordered', [{ name: 'first' }, { name: 'second' }]));
    const pod = await waitForPhase(kc, ns, 'ordered', ['Succeeded', 'Failed']);
    expect(pod.status?.phase).toBe('Succeeded');
    expect(pod.status?.containerStatuses?.[0]?.state.terminated?.message).toBe('first\nsecond\nmain\n');
    expect(pod.status?.initContainerStatuses?.map((c) => [c.name, c.state.terminated?.exitCode, c.state.terminated?.message])).toEqual([
      ['first', 0, 'first done'],
      ['second', 0, 'second done'],
    ]);
  });

  it('a failing init container fails the Pod: nothing after it starts', async () => {
    await createPod(kc, podWithInits('broken', [{ name: 'first' }, { name: 'fails', code: 3 }, { name: 'never' }]));
    const pod = await waitForPhase(kc, ns, 'broken', ['Succeeded', 'Failed']);
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.initContainerStatuses?.map((c) => [c.name, c.state.terminated?.exitCode])).toEqual([
      ['first', 0],
      ['fails', 3],
    ]);
    expect(pod.status?.containerStatuses?.[0]?.state.waiting?.reason).toBe('PodInitializing');
    expect(pod.status?.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('False');
  });
});
