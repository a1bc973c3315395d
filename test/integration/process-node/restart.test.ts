// A process node that dies (SIGKILL, no cleanup) and comes back must never run a job twice: terminated Pods
// stay as they are, Pods that were running become Failed (NodeRestarted) and their leftover processes die.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { NODES } from '../../../dev/process-node/node-registration.ts';
import { PodNetworks } from '../../../dev/process-node/pod-network.ts';
import { startProcessNode, type ProcessNode } from '../../../dev/process-node/process-node.ts';
import type { PodLike } from '../../../dev/process-node/pod-types.ts';
import { getObject, kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { clusterInfo, clusterKubeConfig, testNamespace, waitFor } from '../../support/kube.ts';
import { createPod, readPod, testImageMap, testPod, waitForPhase } from './pod-factory.ts';

const kc = clusterKubeConfig('admin');
const server = new URL(clusterInfo().server);
const nodeName = `m87-pn-restart-${randomBytes(3).toString('hex')}`;
const ns = await testNamespace('pn-restart');
const stateDir = mkdtempSync(join(tmpdir(), 'm87-pn-restart-'));
const exchange = mkdtempSync(join(tmpdir(), 'm87-pn-exchange-'));
chmodSync(exchange, 0o1777);
const imageMapFile = join(exchange, 'image-map.json');
writeFileSync(imageMapFile, JSON.stringify(testImageMap));

let cli: ChildProcess | undefined;
let restarted: ProcessNode | undefined;

afterAll(async () => {
  cli?.kill('SIGKILL');
  await restarted?.stop();
  // Had the test failed between the crash and the restart, the crashed node's container would still run.
  const networks = new PodNetworks(nodeName);
  for (const name of networks.leftovers()) await networks.destroy(name);
  // The NotReady Node has served its purpose; do not leave it to later test files.
  await kubeRequest(kc, { method: 'DELETE', path: resourcePath(NODES, { name: nodeName }) }).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(exchange, { recursive: true, force: true });
});

/** The container logs the node keeps in its state dir (read directly: the crashed node cannot serve them). */
const restartedLogs = (uid: string): Record<string, string> => {
  const dir = join(stateDir, 'pods', uid, 'containers', 'main');
  const read = (f: string): string => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '(none)');
  return { stdout: read('stdout.log'), stderr: read('stderr.log') };
};
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

// Each run appends "<pid>" to its own file in the exchange dir, so a rerun would show as a second line.
const recordRun = (file: string, then: string): string =>
  `require('node:fs').appendFileSync(${JSON.stringify(file)}, process.pid + '\\n'); ${then}`;

it('never reruns a Pod after a crash: terminated Pods stay, running ones become Failed (NodeRestarted)', async () => {
  cli = spawn(
    process.execPath,
    [
      resolve(import.meta.dirname, '../../../dev/process-node/cli.ts'),
      `--kubeconfig=${clusterInfo().kubeconfigPath}`,
      '--context=admin',
      `--node-name=${nodeName}`,
      `--state-dir=${stateDir}`,
      `--image-map=${imageMapFile}`,
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const doneRuns = join(exchange, 'done');
  const sleeperRuns = join(exchange, 'sleeper');
  await createPod(kc, testPod({ name: 'done', namespace: ns, nodeName, script: recordRun(doneRuns, 'process.exit(0)') }));
  await createPod(kc, testPod({ name: 'sleeper', namespace: ns, nodeName, script: recordRun(sleeperRuns, 'setInterval(() => {}, 1000)') }));
  await waitForPhase(kc, ns, 'done', ['Succeeded']);
  await waitForPhase(kc, ns, 'sleeper', ['Running']);
  // Running is reported at spawn, before the script ran: wait for the pid line itself.
  const sleeperPid = Number(await waitFor(() => lines(sleeperRuns)[0], { what: 'the sleeper to record its pid' }));

  // The premise: a crash leaves the container running. If not, say why (status and logs of the sleeper).
  const sleeperDiagnosis = async (): Promise<string> => {
    const sp = await readPod(kc, ns, 'sleeper');
    const logs = restartedLogs(sp.metadata.uid!);
    return `sleeper pid ${sleeperPid} is not running; Pod status ${JSON.stringify(sp.status)}; logs ${JSON.stringify(logs)}`;
  };
  expect(alive(sleeperPid), alive(sleeperPid) ? '' : await sleeperDiagnosis()).toBe(true);

  // Crash: no cleanup at all; the sleeper's process survives its node.
  cli.kill('SIGKILL');
  await new Promise((r) => cli!.once('exit', r));
  cli = undefined;
  expect(alive(sleeperPid), alive(sleeperPid) ? '' : await sleeperDiagnosis()).toBe(true);

  restarted = await startProcessNode({
    kubeConfig: kc,
    nodeName,
    stateDir,
    imageMap: testImageMap,
    apiServer: { host: server.hostname, port: Number(server.port) },
    logger: pino({ level: 'warn' }),
  });
  const sleeper = await waitForPhase(kc, ns, 'sleeper', ['Failed', 'Succeeded']);
  expect(sleeper.status).toMatchObject({ phase: 'Failed', reason: 'NodeRestarted' });
  expect(sleeper.status?.containerStatuses?.[0]?.state.terminated?.reason).toBe('NodeRestarted');
  expect(alive(sleeperPid)).toBe(false);
  expect((await readPod(kc, ns, 'done')).status?.phase).toBe('Succeeded');

  // The restarted node still runs new Pods; nothing old ran again.
  await createPod(kc, testPod({ name: 'after', namespace: ns, nodeName, script: 'process.exit(0)' }));
  await waitForPhase(kc, ns, 'after', ['Succeeded']);
  expect(lines(doneRuns)).toHaveLength(1);
  expect(lines(sleeperRuns)).toHaveLength(1);

  // A clean stop marks the Node NotReady (it is kept, so Pod statuses stay meaningful).
  await restarted.stop();
  restarted = undefined;
  const node = await getObject<PodLike>(kc, NODES, { name: nodeName });
  const ready = (node?.status as { conditions?: { type: string; status: string }[] }).conditions?.find((c) => c.type === 'Ready');
  expect(ready?.status).toBe('False');
});
