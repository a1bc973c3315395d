// The M87 API against the real control plane: the generated CRDs install and become Established, every
// example applies, the API server refuses each class of invalid object with a message naming the field,
// specs are immutable, and kubectl explain / kubectl get m87 work.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiextensionsV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { EXAMPLE_PROPOSAL_UID } from '../../../dev/codegen/examples.ts';
import { generateCrds, type CustomResourceDefinition } from '../../../dev/codegen/generate.ts';
import { CrdInstallError, installCrds } from '../../../dev/codegen/install.ts';
import { GROUP, VERSION } from '../../../src/api/group.ts';
import { KINDS, type KindName } from '../../../src/api/kinds.ts';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { REPO_ROOT, resolveBinary } from '../../../dev/cluster/binaries.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { proposalHash } from '../../../src/integrity/document-hashes.ts';
import { clusterInfo, clusterKubeConfig, expectApiError, testNamespace } from '../../support/kube.ts';

const EXAMPLES = join(REPO_ROOT, 'examples');
const admin = clusterKubeConfig('admin');
const custom = admin.makeApiClient(CustomObjectsApi);
const apiext = admin.makeApiClient(ApiextensionsV1Api);

interface Obj {
  apiVersion: string;
  kind: KindName;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => undefined)));
});

const kubectlCache = mkdtempSync(join(tmpdir(), 'm87-kubectl-cache-'));
afterAll(() => rmSync(kubectlCache, { recursive: true, force: true }));

/** kubectl as the admin of the test cluster, with its own discovery cache (a stale one would hide new CRDs). */
function kubectl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(
    resolveBinary('kubectl'),
    ['--kubeconfig', clusterInfo().kubeconfigPath, '--context', 'admin', '--cache-dir', kubectlCache, ...args],
    { encoding: 'utf8', input, timeout: 60_000 },
  );
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function plural(kind: KindName): string {
  return KINDS[kind].plural;
}

async function create(obj: Obj, namespace: string): Promise<Obj> {
  if (KINDS[obj.kind].scope === 'Cluster') {
    const created = (await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: plural(obj.kind), body: obj })) as Obj;
    cleanups.push(() => custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: plural(obj.kind), name: obj.metadata.name }));
    return created;
  }
  return (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: plural(obj.kind), body: obj })) as Obj;
}

async function replace(obj: Obj): Promise<Obj> {
  const { namespace, name } = obj.metadata;
  return (await custom.replaceNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: namespace ?? '',
    plural: plural(obj.kind),
    name,
    body: obj,
  })) as Obj;
}

function exampleText(file: string): string {
  return readFileSync(join(EXAMPLES, file), 'utf8');
}

function exampleObjects(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj);
}

function proposalExample(file = 'proposal-allow.yaml'): Obj {
  return exampleObjects(exampleText(file))[0]!;
}

/** A proposal from the allow example with one spec change, under a fresh name. */
function proposalWith(name: string, change: (spec: ProposalSpecInput) => void): Obj {
  const obj = proposalExample();
  obj.metadata = { name };
  change(obj.spec as unknown as ProposalSpecInput);
  return obj;
}

beforeAll(async () => {
  await installCrds(admin);
}, 120_000);

describe('installCrds', () => {
  it('installs every M87 CRD, Established, with the generated schema', async () => {
    for (const crd of generateCrds()) {
      const stored = await apiext.readCustomResourceDefinition({ name: crd.metadata.name });
      const conditions = Object.fromEntries((stored.status?.conditions ?? []).map((c) => [c.type, c.status]));
      expect(conditions, crd.metadata.name).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
      expect(stored.spec.names.categories).toEqual(['m87']);
      expect(stored.spec.versions[0]?.subresources?.status).toEqual({});
    }
  });

  it('is idempotent: a second install replaces without changing anything', async () => {
    const name = `proposals.${GROUP}`;
    const before = await apiext.readCustomResourceDefinition({ name });
    await installCrds(admin);
    const after = await apiext.readCustomResourceDefinition({ name });
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
  });

  describe('on CRDs of a throwaway group', () => {
    const group = `t${Date.now().toString(36)}.crd-install.m87.io`;
    const crd = (plural: string, kind: string, shortName: string, description: string): CustomResourceDefinition => ({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'm87-test' } },
      spec: {
        group,
        names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames: [shortName], categories: [] },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', description, properties: { spec: { type: 'object', description: 'spec' } } } },
            subresources: { status: {} },
            additionalPrinterColumns: [],
          },
        ],
      },
    });
    afterAll(async () => {
      for (const name of [`widgets.${group}`, `gadgets.${group}`]) {
        await apiext.deleteCustomResourceDefinition({ name }).catch(() => undefined);
      }
    });

    it('replaces a CRD whose schema changed', async () => {
      await installCrds(admin, { crds: [crd('widgets', 'Widget', 'wdg', 'first')] });
      await installCrds(admin, { crds: [crd('widgets', 'Widget', 'wdg', 'second')] });
      const stored = await apiext.readCustomResourceDefinition({ name: `widgets.${group}` });
      expect(stored.spec.versions[0]?.schema?.openAPIV3Schema?.description).toBe('second');
    });

    it('fails with a clear error when the API server does not accept the names', async () => {
      const clash = crd('gadgets', 'Gadget', 'wdg', 'short name already taken by widgets');
      const error = await installCrds(admin, { crds: [clash], timeoutMs: 30_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CrdInstallError);
      expect((error as Error).message).toMatch(new RegExp(`gadgets\\.${group.replace(/\./g, '\\.')}: names not accepted.*wdg`));
    });
  });
});

describe('examples', () => {
  let ns: string;
  const applied: Obj[] = [];
  beforeAll(async () => {
    ns = await testNamespace('api-examples');
  });

  it('every proposal example applies with kubectl, and the stored spec hashes like the file', async () => {
    for (const file of ['proposal-allow.yaml', 'proposal-deploy.yaml', 'proposal-secrets.yaml']) {
      const run = kubectl(['apply', '-n', ns, '-f', join(EXAMPLES, file)]);
      expect(run.stderr, file).toBe('');
      expect(run.status, file).toBe(0);
      const written = proposalExample(file);
      const stored = (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: 'proposals',
        name: written.metadata.name,
      })) as Obj;
      // Server-side defaults and zod defaults agree, so the stored spec hashes like the submitted one.
      expect(canonicalHash(stored.spec), file).toBe(proposalHash(written.spec));
      applied.push(stored);
    }
  });

  it('decision, approval and job apply once they point at the real Proposal UID', () => {
    const proposal = applied.find((p) => p.metadata.name === proposalExample('proposal-deploy.yaml').metadata.name);
    expect(proposal?.metadata.uid).toBeTruthy();
    for (const file of ['decision.yaml', 'approval.yaml', 'job.yaml']) {
      // UIDs cannot be chosen; owner references must name the live owner or the garbage collector removes them.
      const text = exampleText(file).replaceAll(EXAMPLE_PROPOSAL_UID, proposal!.metadata.uid!);
      const run = kubectl(['apply', '-n', ns, '-f', '-'], text);
      expect(run.stderr, file).toBe('');
      expect(run.status, file).toBe(0);
    }
  });

  it('the cluster-scoped examples (AgentProfiles, GovernancePolicy, Tools) apply', async () => {
    for (const file of ['agentprofiles.yaml', 'governancepolicy.yaml', 'tools.yaml']) {
      for (const obj of exampleObjects(exampleText(file))) {
        // Prefixed so the run does not install the real default policy and profiles for other tests.
        obj.metadata.name = `${ns}-${obj.metadata.name}`;
        const created = await create(obj, ns);
        expect(created.spec, `${file} ${obj.metadata.name}`).toEqual(obj.spec);
      }
    }
  });

  it('kubectl get m87 -A lists every kind', () => {
    const run = kubectl(['get', 'm87', '-A']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    for (const info of Object.values(KINDS)) expect(run.stdout, info.kind).toContain(`${info.singular}.${GROUP}/`);
    expect(run.stdout).toContain(`proposal.${GROUP}/run-cart-tests`);
    expect(run.stdout).toContain('REQUIRE_HUMAN');
  });

  it('kubectl explain proposal.spec.effects shows the field description', () => {
    const run = kubectl(['explain', 'proposal.spec.effects']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Every effect the proposal may have (at least one)');
    expect(run.stdout).toContain('READ_SECRETS');
  });

  it('short names resolve', () => {
    for (const info of Object.values(KINDS)) {
      const run = kubectl(['get', info.shortNames[0], '-A', '-o', 'name']);
      expect(run.status, `${info.shortNames[0]}: ${run.stderr}`).toBe(0);
    }
  });
});

describe('the API server refuses invalid objects, naming the field', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await testNamespace('api-invalid');
  });

  async function refused(obj: Obj): Promise<string> {
    const { code, message } = await expectApiError(create(obj, ns));
    expect(code, message).toBe(422);
    return message;
  }

  it('an unknown effect tag', async () => {
    const message = await refused(proposalWith('unknown-effect', (s) => (s.effects = ['READ_REPO', 'TELEPORT' as never])));
    expect(message).toMatch(/spec\.effects\[1\]: Unsupported value: "TELEPORT"/);
  });

  it('riskScore 1.5', async () => {
    const message = await refused(proposalWith('risk-too-high', (s) => (s.riskScore = 1.5)));
    expect(message).toMatch(/spec\.riskScore: Invalid value: 1\.5: .*less than or equal to 1/);
  });

  it('empty effects', async () => {
    const message = await refused(proposalWith('no-effects', (s) => (s.effects = [])));
    expect(message).toMatch(/spec\.effects: .*at least 1 items/);
  });

  it('a repeated effect', async () => {
    const message = await refused(proposalWith('repeated-effect', (s) => (s.effects = ['READ_REPO', 'READ_REPO'])));
    expect(message).toMatch(/spec\.effects\[1\]: Duplicate value: "READ_REPO"/);
  });

  it('an oversize string', async () => {
    const message = await refused(proposalWith('long-summary', (s) => (s.summary = 'x'.repeat(1025))));
    expect(message).toMatch(/spec\.summary: Too long: may not be (longer|more) than 1024/);
  });

  it('string limits count characters, as zod does: 1024 emoji fit a 1024-character summary, 1025 do not', async () => {
    const fits = proposalWith('emoji-summary', (s) => (s.summary = '😀'.repeat(1024)));
    const stored = await create(fits, ns);
    expect(canonicalHash(stored.spec)).toBe(proposalHash(fits.spec));
    const message = await refused(proposalWith('emoji-summary-long', (s) => (s.summary = '😀'.repeat(1025))));
    expect(message).toMatch(/spec\.summary: Too long: may not be (longer|more) than 1024/);
  });

  it('too many items', async () => {
    const message = await refused(proposalWith('many-steps', (s) => (s.steps = Array.from({ length: 33 }, () => ({ tool: 'echo' })))));
    expect(message).toMatch(/spec\.steps: Too many: 33: must have at most 32 items/);
  });

  it('too many step arguments, and a malformed argument name', async () => {
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`a${i}`, 'v']));
    const tooMany = await refused(proposalWith('many-args', (s) => (s.steps = [{ tool: 'echo', args: many }])));
    expect(tooMany).toMatch(/spec\.steps\[0\]\.args: Too many: 17: must have at most 16 items/);
    const badKey = await refused(proposalWith('bad-arg', (s) => (s.steps = [{ tool: 'echo', args: { '../x': 'v' } }])));
    expect(badKey).toMatch(/spec\.steps\[0\]\.args: Invalid value: .*keys must be at most 63 characters long and match/);
  });

  it('a float where an integer is meant', async () => {
    const message = await refused(
      proposalWith('float-budget', (s) => (s.envelope = { autonomyBudget: { maxSteps: 2.5 } })),
    );
    expect(message).toMatch(/spec\.envelope\.autonomyBudget\.maxSteps: Invalid value: "number": .*must be of type integer/);
  });

  it('a budget outside the seed bounds', async () => {
    const message = await refused(proposalWith('huge-budget', (s) => (s.envelope = { autonomyBudget: { maxRuntimeSeconds: 3601 } })));
    expect(message).toMatch(/spec\.envelope\.autonomyBudget\.maxRuntimeSeconds: Invalid value: 3601: .*less than or equal to 3600/);
  });

  it('a malformed proposal hash in an Approval', async () => {
    const approval = exampleObjects(exampleText('approval.yaml'))[0]!;
    approval.spec.proposalHash = 'not-a-hash';
    const message = await refused(approval);
    expect(message).toMatch(/spec\.proposalHash: /);
  });

  it('unknown fields are pruned, not stored', async () => {
    const obj = proposalWith('unknown-field', (s) => Object.assign(s, { surprise: 'x' }));
    const created = await create(obj, ns);
    expect(created.spec).not.toHaveProperty('surprise');
  });
});

describe('specs are immutable; status and metadata are not', () => {
  let ns: string;
  const created = new Map<KindName, Obj>();
  beforeAll(async () => {
    ns = await testNamespace('api-immutable');
    const proposal = await create(proposalExample('proposal-deploy.yaml'), ns);
    created.set('Proposal', proposal);
    for (const [kind, file] of [
      ['Decision', 'decision.yaml'],
      ['Approval', 'approval.yaml'],
      ['Job', 'job.yaml'],
    ] as const) {
      const obj = exampleObjects(exampleText(file).replaceAll(EXAMPLE_PROPOSAL_UID, proposal.metadata.uid!))[0]!;
      created.set(kind, await create(obj, ns));
    }
  });

  const edits: [KindName, (spec: Record<string, unknown>) => void][] = [
    ['Proposal', (s) => (s.summary = 'Deploy checkout v1.4.3 to production')],
    ['Decision', (s) => (s.outcome = 'ALLOW')],
    ['Approval', (s) => (s.verdict = 'Reject')],
    ['Job', (s) => ((s.envelope as { humanApproved: boolean }).humanApproved = false)],
  ];
  it.each(edits)('a %s spec edit is refused with the immutability message', async (kind, edit) => {
    const obj = structuredClone(created.get(kind)!);
    edit(obj.spec);
    const { code, message } = await expectApiError(replace(obj));
    expect(code, message).toBe(422);
    expect(message).toMatch(/spec: Invalid value: .*spec is immutable: create a new object instead/);
  });

  it('labels can still change, and the controller can write status', async () => {
    const proposal = structuredClone(created.get('Proposal')!);
    proposal.metadata.labels = { team: 'checkout' };
    const relabelled = await replace(proposal);
    const status = { ...relabelled, status: { phase: 'AwaitingApproval', proposalHash: proposalHash(relabelled.spec), observedGeneration: 1 } };
    const updated = (await custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: 'proposals',
      name: relabelled.metadata.name,
      body: status,
    })) as Obj;
    expect(updated.status).toMatchObject({ phase: 'AwaitingApproval' });
  });

  it('status is validated too', async () => {
    const proposal = (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: 'proposals',
      name: created.get('Proposal')!.metadata.name,
    })) as Obj;
    const { code, message } = await expectApiError(
      custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: 'proposals',
        name: proposal.metadata.name,
        body: { ...proposal, status: { phase: 'Teleported' } },
      }),
    );
    expect(code, message).toBe(422);
    expect(message).toMatch(/status\.phase: Unsupported value: "Teleported"/);
  });
});
