// Submitting proposals and watching what becomes of them (Decision, Approval, Job, Pod, Events), and the
// human step through the real `m87 approve` CLI. Shared by the demo and the e2e tier.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../../src/api/group.ts';
import { isTerminalJobPhase } from '../../src/api/job.ts';
import type { ProposalSpecInput } from '../../src/api/proposal.ts';
import type { Receipt } from '../../src/api/receipt.ts';
import { REPO_ROOT } from '../cluster/binaries.ts';
import { waitUntil } from '../cluster/probe.ts';
import { isNotFound, kubeRequest } from '../../src/runtime/kube-http.ts';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
}

export interface ProposalView {
  metadata: ObjectMeta;
  spec: ProposalSpecInput;
  status?: { phase?: string; proposalHash?: string; conditions?: Condition[]; message?: string };
}

export interface DecisionView {
  metadata: ObjectMeta;
  spec: {
    outcome: string;
    reasons: { code: string; rule: string; message: string; outcome?: string }[];
    challenge?: { prompt: string; id: string };
    envelopeHash?: string;
    proposalHash: string;
    decidedAt?: string;
  };
}

export interface JobView {
  metadata: ObjectMeta;
  spec: { envelopeHash: string; signature: string; envelope: { steps: { tool: string }[]; egress: { host: string; port: number }[] } };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    podName?: string;
    startTime?: string;
    completionTime?: string;
    receipt?: Receipt;
    conditions?: Condition[];
  };
}

export interface PodView {
  metadata: ObjectMeta;
  status?: { phase?: string; podIP?: string; containerStatuses?: { name: string; state?: { terminated?: { exitCode: number; message?: string } } }[] };
}

export interface EventView {
  reason: string;
  message: string;
  type: string;
  involvedObject: { kind: string; name: string };
}

const m87Path = (plural: string, namespace: string, name?: string): string =>
  `/apis/${API_VERSION}/namespaces/${namespace}/${plural}${name === undefined ? '' : `/${name}`}`;

async function getOrUndefined<T>(kc: KubeConfig, path: string): Promise<T | undefined> {
  try {
    return await kubeRequest<T>(kc, { method: 'GET', path });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function condition(obj: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

/** Creates a Proposal with the caller's own credentials (an agent's ServiceAccount token, or a person's). */
export async function propose(kc: KubeConfig, namespace: string, name: string, spec: ProposalSpecInput): Promise<ProposalView> {
  return kubeRequest<ProposalView>(kc, {
    method: 'POST',
    path: m87Path('proposals', namespace),
    body: { apiVersion: API_VERSION, kind: 'Proposal', metadata: { name, namespace }, spec },
  });
}

export const getProposal = (kc: KubeConfig, ns: string, name: string): Promise<ProposalView | undefined> => getOrUndefined(kc, m87Path('proposals', ns, name));
export const getDecision = (kc: KubeConfig, ns: string, name: string): Promise<DecisionView | undefined> => getOrUndefined(kc, m87Path('decisions', ns, name));
export const getJob = (kc: KubeConfig, ns: string, name: string): Promise<JobView | undefined> => getOrUndefined(kc, m87Path('jobs', ns, name));
export const getPod = (kc: KubeConfig, ns: string, name: string): Promise<PodView | undefined> => getOrUndefined(kc, `/api/v1/namespaces/${ns}/pods/${name}`);

export async function waitForDecision(kc: KubeConfig, ns: string, name: string, timeoutMs = 30_000): Promise<DecisionView> {
  return waitUntil(() => getDecision(kc, ns, name), { what: `the Decision of ${ns}/${name}`, timeoutMs, intervalMs: 100 });
}

export async function waitForProposalPhase(kc: KubeConfig, ns: string, name: string, phases: readonly string[], timeoutMs = 30_000): Promise<ProposalView> {
  return waitUntil(
    async () => {
      const p = await getProposal(kc, ns, name);
      return p !== undefined && phases.includes(p.status?.phase ?? '') ? p : undefined;
    },
    { what: `proposal ${ns}/${name} in phase ${phases.join(' or ')}`, timeoutMs, intervalMs: 100 },
  );
}

/** Waits until the Job recorded its result (phase Succeeded or Failed). */
export async function waitForJobResult(kc: KubeConfig, ns: string, name: string, timeoutMs = 60_000): Promise<JobView> {
  return waitUntil(
    async () => {
      const job = await getJob(kc, ns, name);
      return isTerminalJobPhase(job?.status?.phase) ? job : undefined;
    },
    { what: `job ${ns}/${name} to finish`, timeoutMs, intervalMs: 100 },
  );
}

/** Events about one object (the controller sends them in the background: wait for `reason` when given). */
export async function eventsFor(kc: KubeConfig, ns: string, kind: string, name: string, reason?: string, timeoutMs = 15_000): Promise<EventView[]> {
  const list = async (): Promise<EventView[]> => {
    const r = await kubeRequest<{ items: EventView[] }>(kc, {
      method: 'GET',
      path: `/api/v1/namespaces/${ns}/events`,
      query: { fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` },
    });
    return r.items;
  };
  if (reason === undefined) return list();
  return waitUntil(
    async () => {
      const items = await list();
      return items.some((e) => e.reason === reason) ? items : undefined;
    },
    { what: `a ${reason} Event for ${kind} ${ns}/${name}`, timeoutMs, intervalMs: 100 },
  );
}

/**
 * The answer a careful approver types: the challenge prompt names it ("… Type <answer> to acknowledge" or
 * "… the toxic topology <name> … Type the topology name exactly …").
 */
export function challengeAnswer(prompt: string): string {
  const literal = /Type ([a-z0-9_]+) to acknowledge/.exec(prompt);
  if (literal?.[1] !== undefined) return literal[1];
  const topology = /toxic topology ([a-z0-9_]+)/.exec(prompt);
  if (topology?.[1] !== undefined) return topology[1];
  throw new Error(`cannot tell the expected answer from the challenge prompt: ${prompt}`);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real m87 CLI (`node src/cli/main.ts …`). */
export function m87Cli(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface HumanApproval {
  approver: string;
  challengeResponse?: string;
  cli: CliResult;
}

/**
 * A person approves through `m87 approve <name> -n <ns> --kubeconfig … --context <who> --yes`, answering the
 * decision's challenge (read as that person) when there is one.
 */
export async function approveAs(
  who: { context: string; kubeConfig: KubeConfig },
  kubeconfigPath: string,
  ns: string,
  name: string,
): Promise<HumanApproval> {
  const decision = await waitForDecision(who.kubeConfig, ns, name);
  const answer = decision.spec.challenge === undefined ? undefined : challengeAnswer(decision.spec.challenge.prompt);
  const args = ['approve', name, '-n', ns, '--kubeconfig', kubeconfigPath, '--context', who.context, '--yes', '--comment', 'reviewed in the m87 demo'];
  if (answer !== undefined) args.push('--challenge-response', answer);
  const cli = await m87Cli(args);
  return { approver: who.context, ...(answer !== undefined ? { challengeResponse: answer } : {}), cli };
}
