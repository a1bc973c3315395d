// The baseline: a controller on the same runtime (Informer + Controller + createIfAbsent + patchStatus,
// the same HTTP client) that makes, per Proposal, the same two API writes the real controller makes to
// decide one — create a Decision, patch the Proposal's status with a Decided condition — and nothing
// else: no governance, no per-submitter ordering, no Jobs, Pods or Events. The Decision written is the
// generated example (examples/decision.yaml, the size of a real one) pointed at the Proposal.
//   node bench/noop-controller.ts --kubeconfig <path> [--context admin] [--workers 8] [--decision-example examples/decision.yaml]
// The bench runs it compiled (dev/build/ensure.ts ensureCompiledProgram), as the image runs the controller.
// Prints "READY" on stdout once its cache synced and its workers run; stops on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { API_VERSION } from '../src/api/group.ts';
import { controllerRef } from '../src/controller/owner.ts';
import { DECISIONS, PROPOSALS } from '../src/controller/resources.ts';
import { REPO_ROOT } from '../dev/cluster/binaries.ts';
import { Controller, type ObjectKey, type ReconcileContext } from '../src/runtime/controller.ts';
import { Informer } from '../src/runtime/informer.ts';
import type { KubeObject } from '../src/runtime/resource.ts';
import { createIfAbsent, patchStatus, setCondition, type Condition } from '../src/runtime/status.ts';
import { decidedOutcome } from './watch-latency.ts';

const FIELD_MANAGER = 'm87-bench-noop';

interface ExampleDecision {
  spec: Record<string, unknown> & { outcome: string };
}

export function noopDecision(example: ExampleDecision, proposal: KubeObject): KubeObject {
  const { namespace, name, uid } = proposal.metadata;
  if (namespace === undefined || name === undefined || uid === undefined) throw new Error('proposal without namespace, name or uid');
  const spec = proposal.spec as { submittedBy?: unknown; agent?: unknown } | undefined;
  return {
    apiVersion: API_VERSION,
    kind: 'Decision',
    metadata: { name, namespace, ownerReferences: [controllerRef('Proposal', { name, uid })] },
    spec: {
      ...example.spec,
      proposalRef: { name, uid },
      submittedBy: typeof spec?.submittedBy === 'string' ? spec.submittedBy : 'unknown',
      agent: typeof spec?.agent === 'string' ? spec.agent : 'unknown',
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      workers: { type: 'string', default: '8' },
      // Given by the bench: compiled into bench/.build, this file cannot find the checkout through its own path.
      'decision-example': { type: 'string', default: join(REPO_ROOT, 'examples', 'decision.yaml') },
    },
  });
  if (values.kubeconfig === undefined) throw new Error('--kubeconfig is required');
  const kc = new KubeConfig();
  kc.loadFromFile(values.kubeconfig);
  if (values.context !== undefined) kc.setCurrentContext(values.context);
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers: want a positive integer, got ${values.workers}`);

  const example = parse(readFileSync(values['decision-example'], 'utf8')) as ExampleDecision;
  const log = pino({ level: process.env.M87_LOG_LEVEL ?? 'warn' });
  const registry = new Registry();
  const proposals = new Informer<KubeObject>({ kubeConfig: kc, resource: PROPOSALS, logger: log });
  // What we decided, until the cache shows it (the real controller's ledger plays this part).
  const decided = new Set<string>();

  const reconcile = async (key: ObjectKey, ctx: ReconcileContext): Promise<void> => {
    const obj = proposals.getByName(key.namespace, key.name);
    const uid = obj?.metadata.uid;
    if (obj === undefined || uid === undefined || decided.has(uid) || decidedOutcome(obj).decided) return;
    const write = { fence: ctx.fence, fieldManager: FIELD_MANAGER, signal: ctx.signal };
    const { object: decision } = await createIfAbsent<KubeObject>(kc, DECISIONS, noopDecision(example, obj), write);
    await patchStatus<KubeObject>(
      kc,
      PROPOSALS,
      { namespace: key.namespace, name: key.name },
      (draft) => {
        const status = { ...((draft.status as Record<string, unknown> | undefined) ?? {}) };
        const generation = typeof draft.metadata.generation === 'number' ? draft.metadata.generation : 1;
        status.phase = 'AwaitingApproval';
        status.outcome = example.spec.outcome;
        status.message = 'Decided by the no-op baseline controller.';
        status.decisionRef = { name: decision.metadata.name, uid: decision.metadata.uid };
        status.conditions = setCondition(
          (status.conditions as Condition[] | undefined) ?? [],
          { type: 'Decided', status: 'True', reason: 'RequiresHuman', message: 'Decided by the no-op baseline controller.', observedGeneration: generation },
          new Date(),
        );
        status.observedGeneration = generation;
        draft.status = status;
      },
      { current: obj, ...write },
    );
    decided.add(uid);
  };

  const controller = new Controller({ name: 'noop', reconcile, workers, logger: log, registry }).watch(proposals);
  proposals.start();
  await controller.start();
  process.stdout.write('READY\n');

  const stop = async (): Promise<void> => {
    await controller.stop({ drain: false });
    await proposals.stop();
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void stop().finally(() => process.exit(0));
    });
  }
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`noop-controller: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
