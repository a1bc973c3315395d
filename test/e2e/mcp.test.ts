// An agent runtime's view of M87: `m87 mcp` driven by the official MCP SDK client over stdio (and once over
// streamable HTTP), started with the agent's own ServiceAccount token, against the e2e stack (chart,
// controller, process node). A proposal the policy allows runs to a verified receipt; one it denies comes
// back with every reason; one that needs a human waits with approval pending. Malformed calls, oversize
// proposals and missing credentials get clear errors, and nothing is created.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../dev/cluster/binaries.ts';
import { serviceAccountUsername } from '../../dev/cluster/service-account.ts';
import { startChild } from '../../dev/demo/processes.ts';
import { runTestsSpec } from '../../dev/demo/proposals.ts';
import { AGENT_NAMESPACE } from '../../dev/demo/stack.ts';
import { M87Client, MAX_PROPOSAL_BYTES, type ProposalState } from '../../src/client/index.ts';
import { e2eStack } from './stack.ts';

const { stack, ctx } = await e2eStack('mcp');
const ns = stack.jobNamespace;
const CLI_MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const CASEY = serviceAccountUsername(AGENT_NAMESPACE, 'casey');
const admin = new M87Client(stack.admin);

const dir = mkdtempSync(join(tmpdir(), 'm87-mcp-e2e-'));
/** MCP clients and servers started in this file (also from inside tests), stopped after it. */
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfigFile(name: string, kc: KubeConfig): string {
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** An MCP client session with `m87 mcp` as a child process over stdio. */
async function connectStdio(args: string[], env: Record<string, string> = { HOME: dir, PATH: process.env.PATH ?? '' }): Promise<Client> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI_MAIN, 'mcp', ...args], env, stderr: 'pipe' });
  const client = new Client({ name: 'm87-e2e-agent', version: '1.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return client;
}

const casey = await connectStdio(['--kubeconfig', kubeconfigFile('casey', stack.agents.casey), '--namespace', ns, '--agent', 'casey']);

async function call(client: Client, name: string, args: Record<string, unknown>, onProgress?: (message: string) => void): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, {
    timeout: 150_000,
    resetTimeoutOnProgress: true,
    ...(onProgress ? { onprogress: (p) => onProgress(p.message ?? '') } : {}),
  })) as CallToolResult;
}

function structured<T>(result: CallToolResult): T {
  return result.structuredContent as unknown as T;
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** The proposal an agent writes (no submittedBy, no agent: the server has --agent casey). */
function draft(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const repo = stack.repository;
  if (repo === undefined) throw new Error('the e2e stack serves no repository (veth network mode only)');
  const { submittedBy: _s, agent: _a, ...spec } = runTestsSpec(repo);
  return { ...spec, ...overrides };
}

async function proposalNames(): Promise<string[]> {
  return (await admin.list('Proposal', { namespace: ns })).items.map((p) => p.metadata.name ?? '');
}

describe('m87 mcp over stdio with the agent\'s ServiceAccount token', () => {
  it('lists its tools, and the tool catalogue for the agent', async () => {
    expect((await casey.listTools()).tools.map((t) => t.name).sort()).toEqual(['explain_decision', 'get_status', 'list_tools', 'propose', 'wait_for_result']);
    const r = await call(casey, 'list_tools', {});
    expect(r.isError).toBeFalsy();
    const catalogue = r.structuredContent as { you: string; tools: { name: string; effects: string[] }[]; agent: { name: string; readable: boolean } };
    expect(catalogue.you).toBe(CASEY);
    // The cluster's Tool objects: the shipped ones (and the test-only ones the e2e stack adds).
    expect(catalogue.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['git-checkout', 'apply-patch', 'run-tests', 'http-get', 'notify']));
    // Agents may not read AgentProfiles (RBAC): the catalogue says so instead of guessing.
    expect(catalogue.agent).toMatchObject({ name: 'casey', readable: false });
  });

  it('a proposal the policy allows: submitted as the agent, decided ALLOW, run, with a verified receipt', async () => {
    const name = `mcp-allow-${ctx.suffix}`;
    const proposed = await call(casey, 'propose', { proposal: draft(), name });
    expect(proposed.isError, textOf(proposed)).toBeFalsy();
    expect(proposed.structuredContent).toMatchObject({ name, namespace: ns, submittedBy: CASEY, agent: 'casey' });
    const progress: string[] = [];
    const r = await call(casey, 'wait_for_result', { name, timeoutSeconds: 120 }, (m) => progress.push(m));
    const state = structured<ProposalState & { timedOut: boolean }>(r);
    expect(state).toMatchObject({ phase: 'Succeeded', final: true, timedOut: false, submittedBy: CASEY, approval: { state: 'not-required' } });
    expect(state.decision?.outcome).toBe('ALLOW');
    expect(state.decision?.reasons.length).toBeGreaterThan(0);
    expect(state.job?.receipt).toMatchObject({ status: 'Succeeded', deh: { verified: true } });
    expect(state.job?.receipt?.steps.map((s) => s.tool)).toEqual(['git-checkout', 'run-tests']);
    expect(state.job?.receipt?.artifacts.length).toBeGreaterThan(0);
    // A notification for every phase seen, each a one-line state.
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((m) => m.startsWith(`Proposal ${ns}/${name}: `))).toBe(true);
    // What the API server stored names the agent: identity came from the credentials.
    expect((await admin.get('Proposal', { namespace: ns, name })).spec.submittedBy).toBe(CASEY);
  });

  it('a proposal the policy denies comes back with every reason, and explain_decision says what configures each', async () => {
    const name = `mcp-deny-${ctx.suffix}`;
    const proposed = await call(casey, 'propose', { proposal: draft({ effects: ['RUN_TESTS', 'WRITE_PATCH', 'READ_SECRETS'] }), name });
    expect(proposed.isError, textOf(proposed)).toBeFalsy();
    const r = await call(casey, 'wait_for_result', { name, timeoutSeconds: 60 });
    const state = structured<ProposalState>(r);
    expect(state).toMatchObject({ phase: 'Denied', final: true, decision: { outcome: 'DENY' } });
    const codes = state.decision?.reasons.map((x) => x.code) ?? [];
    expect(codes).toEqual(expect.arrayContaining(['READ_SECRETS_FORBIDDEN', 'EFFECT_NOT_ALLOWED_FOR_AGENT']));
    expect(textOf(r)).toContain('READ_SECRETS_FORBIDDEN');
    expect(state.job).toBeUndefined();

    const explained = await call(casey, 'explain_decision', { name });
    expect(explained.isError, textOf(explained)).toBeFalsy();
    const e = explained.structuredContent as { outcome: string; reasons: { code: string; configuredBy: string }[]; replay: { available: boolean } };
    expect(e.outcome).toBe('DENY');
    expect(e.reasons.find((x) => x.code === 'EFFECT_NOT_ALLOWED_FOR_AGENT')?.configuredBy).toBe('AgentProfile.spec.allowedEffects');
    // The agent may not read the policy: the record is explained, the replay is declined, not guessed.
    expect(e.replay.available).toBe(false);
  });

  it('a proposal that needs a human: REQUIRE_HUMAN, approval pending; waiting for the end times out with the state so far', async () => {
    const name = `mcp-human-${ctx.suffix}`;
    const proposed = await call(casey, 'propose', { proposal: draft({ riskScore: 0.9 }), name });
    expect(proposed.isError, textOf(proposed)).toBeFalsy();
    const decided = structured<ProposalState>(await call(casey, 'wait_for_result', { name, until: 'decision', timeoutSeconds: 60 }));
    expect(decided).toMatchObject({ phase: 'AwaitingApproval', final: false, decision: { outcome: 'REQUIRE_HUMAN' }, approval: { state: 'pending', required: 1, accepted: 0 } });
    expect(decided.decision?.reasons.map((x) => x.code)).toContain('RISK_ABOVE_AGENT_MAX');
    const waited = await call(casey, 'wait_for_result', { name, timeoutSeconds: 2 });
    expect(waited.structuredContent).toMatchObject({ timedOut: true, phase: 'AwaitingApproval', approval: { state: 'pending' } });
    const status = await call(casey, 'get_status', { name });
    expect(status.structuredContent).toMatchObject({ phase: 'AwaitingApproval', approval: { state: 'pending' } });
  });
});

describe('bad input: clear errors, nothing created', () => {
  it('malformed proposals are refused before sending, naming the field', async () => {
    const before = await proposalNames();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ proposal: draft({ steps: [] }) }, /proposal\.steps/],
      [{ proposal: draft({ steps: [{ tool: 'Run Tests!' }] }) }, /proposal\.steps\[0\]\.tool/],
      [{ proposal: draft({ effects: ['FLY'] }) }, /proposal\.effects\[0\]/],
      [{ proposal: draft({ summary: undefined }) }, /proposal\.summary/],
      [{ proposal: draft({ submittedBy: 'alice' }) }, /identity is not a parameter/],
      [{ proposal: draft(), name: 'Not A Name' }, /name/],
      [{ proposal: 'apply this yaml' }, /proposal/],
      [{}, /proposal/],
    ];
    for (const [args, message] of cases) {
      const r = await call(casey, 'propose', args);
      expect(r.isError, JSON.stringify(args).slice(0, 200)).toBe(true);
      expect(textOf(r)).toMatch(message);
    }
    const unknown = await casey.callTool({ name: 'delete_everything', arguments: {} }).then(
      (r) => textOf(r as CallToolResult),
      (err: unknown) => String(err),
    );
    expect(unknown).toMatch(/delete_everything/);
    const missing = await call(casey, 'get_status', { name: 'no-such-proposal' });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/NotFound: Proposal .*no-such-proposal/);
    expect(await proposalNames()).toEqual(before);
  });

  it('an oversize proposal is refused, and nothing is created', async () => {
    const before = await proposalNames();
    const big = 'x'.repeat(200_000);
    const artifacts = [1, 2].map((i) => ({ type: 'document', path: `docs/big-${i}.md`, content: big }));
    const r = await call(casey, 'propose', { proposal: draft({ artifacts }), name: `mcp-big-${ctx.suffix}` });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain(`at most ${MAX_PROPOSAL_BYTES}`);
    expect((r.structuredContent as { error: { reason: string } }).error.reason).toBe('TooLarge');
    expect(await proposalNames()).toEqual(before);
  });

  it('without credentials, or with anonymous ones, every call says so, and nothing is created', async () => {
    const before = await proposalNames();
    const none = await connectStdio(['--namespace', ns, '--agent', 'casey']); // no kubeconfig, HOME without one, not in a Pod
    const r1 = await call(none, 'propose', { proposal: draft() });
    expect(r1.isError).toBe(true);
    expect(textOf(r1)).toMatch(/NoCredentials: no credentials: pass --kubeconfig/);

    const cluster = stack.admin.getCurrentCluster()!;
    const anonymousFile = join(dir, 'anonymous.kubeconfig');
    writeFileSync(
      anonymousFile,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: cluster.name, cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
        users: [{ name: 'nobody', user: {} }],
        contexts: [{ name: 'nobody', context: { cluster: cluster.name, user: 'nobody' } }],
        'current-context': 'nobody',
      }),
    );
    const anonymous = await connectStdio(['--kubeconfig', anonymousFile, '--namespace', ns, '--agent', 'casey']);
    const r2 = await call(anonymous, 'propose', { proposal: draft() });
    expect(r2.isError).toBe(true);
    expect(textOf(r2)).toMatch(/Unauthorized: .*anonymous/);
    expect(await proposalNames()).toEqual(before);
  });
});

describe('m87 mcp over streamable HTTP on loopback', () => {
  it('serves the same tools at http://127.0.0.1:<port>/mcp with the agent\'s credentials, to a client with the token', async () => {
    const tokenFile = join(dir, 'mcp.token');
    const child = await startChild({
      name: 'm87-mcp-http',
      argv: [process.execPath, CLI_MAIN, 'mcp', '--http', '--listen', '127.0.0.1:0', '--token-file', tokenFile, '--kubeconfig', join(dir, 'casey.kubeconfig'), '--namespace', ns, '--agent', 'casey'],
      logFile: join(dir, 'mcp-http.log'),
    });
    cleanups.push(() => child.stop());
    const url = (await child.waitForLog(/serving streamable HTTP on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, 30_000))[1]!;
    const stranger = new Client({ name: 'm87-e2e-http-stranger', version: '1.0.0' });
    await expect(stranger.connect(new StreamableHTTPClientTransport(new URL(url)))).rejects.toThrow(/401|nauthorized/);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const client = new Client({ name: 'm87-e2e-http-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    cleanups.push(() => client.close());
    const status = await call(client, 'get_status', { name: `mcp-allow-${ctx.suffix}` });
    expect(status.isError, textOf(status)).toBeFalsy();
    expect(status.structuredContent).toMatchObject({ phase: 'Succeeded', submittedBy: CASEY });
  });
});
