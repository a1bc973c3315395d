// "Fix the failing test", governed end to end on the real control plane and the process node: the catalogue
// (Tool objects) → Casey's proposal (git-checkout at a pinned commit → apply-patch → run-tests) → Decision →
// signed Job → step Pod (each step in its tool's image, the repository fetched through the runner's egress
// gate from a git server on a veth of the test's own) → receipt → outputs read through pods/log and stored
// with the Job → the patch and the test report fetched with the client, digests re-checked.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultImageMap } from '../../../dev/process-node/image-map.ts';
import { formatIPv4, parseCidr } from '../../../dev/process-node/pod-network.ts';
import { startProcessNode } from '../../../dev/process-node/process-node.ts';
import { toolImageMap } from '../../../dev/process-node/tool-images.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import { fetchJobOutputs, M87Client } from '../../../src/client/index.ts';
import { TOOLS } from '../../../src/controller/resources.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { clusterInfo, waitFor } from '../../support/kube.ts';
import { makePythonRepo, startGitHttpServer } from '../../support/git-http-server.ts';
import { admin, caseySpec, createPolicy, get, JOBS, propose, setupEnv, startTestController } from '../controller/harness.ts';

const POD_CIDR = '10.237.0.0/16';

function available(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const runnable = process.getuid?.() === 0 && available('nft', ['--version']) && available('git', ['--version']) && available('/usr/bin/python3', ['-m', 'venv', '--help']);

describe.skipIf(!runnable)('governed fix-the-failing-test on the process node', async () => {
  const env = await setupEnv('m87-fix', { withPolicy: false });
  const stateDir = mkdtempSync(join(tmpdir(), 'm87-fix-node-'));
  const repos = mkdtempSync(join(tmpdir(), 'm87-fix-repos-'));
  mkdirSync(join(repos, 'calc'));
  const { commit, fix } = makePythonRepo(join(repos, 'calc'));
  const git = await startGitHttpServer(repos, { host: formatIPv4(parseCidr(POD_CIDR, 'podCidr').base + 1) });
  const toolsDir = join(stateDir, 'tools');
  mkdirSync(toolsDir);
  chmodSync(stateDir, 0o755);
  const server = new URL(clusterInfo().server);
  const node = await startProcessNode({
    kubeConfig: admin,
    nodeName: `m87-fix-${env.suffix}`,
    stateDir,
    imageMap: [...defaultImageMap(), ...toolImageMap(toolsDir)],
    apiServer: { host: server.hostname, port: Number(server.port) },
    network: { mode: 'veth', podCidr: POD_CIDR },
    logger: pino({ level: 'warn' }),
    deleteNodeOnStop: true,
  });
  const tool = (name: string): string => `${name}-${env.suffix}`;
  for (const name of ['git-checkout', 'apply-patch', 'run-tests']) {
    await kubeRequest(admin, { method: 'POST', path: resourcePath(TOOLS, {}), body: { apiVersion: API_VERSION, kind: 'Tool', metadata: { name: tool(name) }, spec: SHIPPED_TOOLS[name] } });
  }
  const gitEgress = { host: git.host, port: git.port };
  await createPolicy(env, { ...env.policySpec, envelope: { ...env.policySpec.envelope, allowedEgress: [gitEgress] } });
  await startTestController(env);
  afterAll(async () => {
    await node.stop();
    await git.stop();
    for (const name of ['git-checkout', 'apply-patch', 'run-tests']) await kubeRequest(admin, { method: 'DELETE', path: resourcePath(TOOLS, { name: tool(name) }) }).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(repos, { recursive: true, force: true });
  });

  const fixSpec = (patch: string) =>
    caseySpec(env, {
      summary: 'Fix the failing test',
      intent: { id: 'fix-add', goal: 'Make test_add pass', mode: 'build' },
      effects: ['READ_REPO', 'WRITE_PATCH', 'RUN_TESTS'],
      steps: [
        { tool: tool('git-checkout'), args: { repository: git.url('calc'), commit } },
        { tool: tool('apply-patch'), args: { patch } },
        { tool: tool('run-tests'), args: { path: 'tests' } },
      ],
      envelope: { egress: [gitEgress], autonomyBudget: { maxRuntimeSeconds: 120, maxExternalIO: 10 } },
    });

  async function finished(name: string) {
    return waitFor(
      async () => {
        const j = await get(JOBS, env.jobNamespace, name);
        const phase = (j?.status as { phase?: string } | undefined)?.phase;
        return phase === 'Succeeded' || phase === 'Failed' ? (j?.status as { phase: string; reason: string; message: string }) : undefined;
      },
      { what: `job ${name} finished`, timeoutMs: 150_000 },
    );
  }

  it('the fix: Succeeded, the patch and the passing test report retrievable', async () => {
    await propose(env, 'casey', 'fix-add', fixSpec(fix));
    const status = await finished('fix-add');
    expect(status, status.message).toMatchObject({ phase: 'Succeeded' });
    const { outputs } = await fetchJobOutputs(new M87Client(admin), { namespace: env.jobNamespace, proposal: 'fix-add' });
    expect(outputs.map((o) => o.path).sort()).toEqual(['outputs/1/patch', 'outputs/2/test-report']);
    expect(outputs.find((o) => o.name === 'patch')!.bytes.toString()).toContain('+    return a + b');
    expect(outputs.find((o) => o.name === 'test-report')!.bytes.toString()).toMatch(/<testsuite [^>]*failures="0"/);
  }, 200_000);

  it('no fix: the job fails at run-tests, and the failing report is still retrievable', async () => {
    const noop = ['--- a/tests/__init__.py', '+++ b/tests/__init__.py', '@@ -0,0 +1 @@', '+# nothing fixed', ''].join('\n');
    await propose(env, 'casey', 'no-fix', fixSpec(noop));
    const status = await finished('no-fix');
    expect(status).toMatchObject({ phase: 'Failed', reason: 'STEP_FAILED' });
    const { outputs } = await fetchJobOutputs(new M87Client(admin), { namespace: env.jobNamespace, proposal: 'no-fix' });
    expect(outputs.find((o) => o.name === 'test-report')!.bytes.toString()).toMatch(/<testsuite [^>]*failures="1"/);
  }, 200_000);
});
