import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateCrd, schemaFor, SchemaGenerationError, type CustomResourceDefinition, type SchemaNode } from '../../../dev/codegen/generate.ts';
import { EFFECT_TAGS } from '../../../src/api/effects.ts';
import { BUDGET_BOUNDS } from '../../../src/api/envelope.ts';
import { KINDS, type KindInfo, type KindName } from '../../../src/api/kinds.ts';
import { IMMUTABLE_SPEC } from '../../../src/api/primitives.ts';

const KIND_NAMES = Object.keys(KINDS) as KindName[];
const crds = Object.fromEntries(KIND_NAMES.map((k) => [k, generateCrd(KINDS[k] as KindInfo)])) as Record<KindName, CustomResourceDefinition>;

function root(kind: KindName): SchemaNode {
  return crds[kind].spec.versions[0]!.schema.openAPIV3Schema;
}

function at(kind: KindName, path: string): SchemaNode {
  let node = root(kind);
  for (const part of path.split('.')) {
    const next = part === '[]' ? node.items : part === '*' ? node.additionalProperties : node.properties?.[part];
    if (next === undefined || typeof next !== 'object') throw new Error(`${kind}: no schema at ${path} (stuck at ${part})`);
    node = next;
  }
  return node;
}

interface Visited {
  path: string;
  node: SchemaNode;
  /** Reached as a named object property (as opposed to array items or map values). */
  isProperty: boolean;
}

/** Every node under spec and status of every kind. */
function allNodes(): Visited[] {
  const out: Visited[] = [];
  const walk = (node: SchemaNode, path: string, isProperty: boolean) => {
    out.push({ path, node, isProperty });
    for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${name}`, true);
    if (node.items) walk(node.items, `${path}[]`, false);
    if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.*`, false);
  };
  for (const kind of KIND_NAMES) {
    walk(at(kind, 'spec'), `${kind}.spec`, true);
    walk(at(kind, 'status'), `${kind}.status`, true);
  }
  return out;
}

const nodes = allNodes();

describe('CRD schemas: bounds that keep hostile objects out of etcd', () => {
  it('every string has a maxLength', () => {
    const unbounded = nodes.filter((n) => n.node.type === 'string' && typeof n.node.maxLength !== 'number').map((n) => n.path);
    expect(unbounded).toEqual([]);
  });

  it('every list has maxItems', () => {
    const unbounded = nodes.filter((n) => n.node.type === 'array' && typeof n.node.maxItems !== 'number').map((n) => n.path);
    expect(unbounded).toEqual([]);
  });

  it('every map has maxProperties', () => {
    const maps = nodes.filter((n) => n.node.type === 'object' && n.node.additionalProperties !== undefined);
    expect(maps.length).toBeGreaterThan(0);
    expect(maps.filter((n) => typeof n.node.maxProperties !== 'number').map((n) => n.path)).toEqual([]);
  });

  it('every object property has a description (kubectl explain)', () => {
    const bare = nodes.filter((n) => n.isProperty && !(typeof n.node.description === 'string' && n.node.description.length > 0)).map((n) => n.path);
    expect(bare).toEqual([]);
    for (const kind of KIND_NAMES) expect(root(kind).description, kind).toBeTruthy();
  });

  it('is structural: every node typed, no unions, references or closed objects', () => {
    for (const { path, node } of nodes) {
      expect(['object', 'array', 'string', 'integer', 'number', 'boolean'], path).toContain(node.type);
      for (const keyword of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', '$schema', 'propertyNames', 'nullable']) {
        expect(node, `${path} has ${keyword}`).not.toHaveProperty(keyword);
      }
      expect(node.additionalProperties, `${path}: additionalProperties false (structural schemas prune instead)`).not.toBe(false);
    }
  });

  it('map keys are checked by a CEL rule, since maps cannot say what their keys look like', () => {
    const args = at('Proposal', 'spec.steps.[].args');
    expect(args['x-kubernetes-validations']).toEqual([
      {
        rule: "self.all(k, size(k) >= 1 && size(k) <= 63 && k.matches('^[A-Za-z][A-Za-z0-9_]*$'))",
        message: 'keys must be at most 63 characters long and match ^[A-Za-z][A-Za-z0-9_]*$',
      },
    ]);
    expect(args.maxProperties).toBe(16);
  });
});

describe('CRD schemas: enums', () => {
  const effectItems: [KindName, string][] = [
    ['Proposal', 'spec.effects.[]'],
    ['Decision', 'spec.effects.[]'],
    ['Decision', 'spec.allowedEffects.[]'],
    ['Decision', 'spec.effectiveEnvelope.effects.[]'],
    ['Job', 'spec.envelope.effects.[]'],
    ['AgentProfile', 'spec.allowedEffects.[]'],
    ['GovernancePolicy', 'spec.toxicPairs.[].effects.[]'],
  ];
  it.each(effectItems)('%s %s is the closed effect-tag enum, and its list a set', (kind, path) => {
    expect(at(kind, path).enum).toEqual([...EFFECT_TAGS]);
    expect(at(kind, path.replace(/\.\[\]$/, ''))['x-kubernetes-list-type']).toBe('set');
  });

  const enums: [string, KindName, string, string[]][] = [
    ['outcome', 'Decision', 'spec.outcome', ['ALLOW', 'DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE']],
    ['reason outcome', 'Decision', 'spec.reasons.[].outcome', ['ALLOW', 'DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE']],
    ['proposal outcome', 'Proposal', 'status.outcome', ['ALLOW', 'DENY', 'REQUIRE_HUMAN', 'NEED_MORE_EVIDENCE']],
    ['toxic pair outcome', 'GovernancePolicy', 'spec.toxicPairs.[].outcome', ['DENY', 'REQUIRE_HUMAN']],
    ['verdict', 'Approval', 'spec.verdict', ['Approve', 'Reject']],
    ['approval state', 'Approval', 'status.state', ['Accepted', 'Rejected']],
    ['reversibility class', 'Proposal', 'spec.reversibility.class', ['REVERSIBLE', 'PARTIALLY_REVERSIBLE', 'IRREVERSIBLE']],
    ['envelope reversibility class', 'Job', 'spec.envelope.reversibility.class', ['REVERSIBLE', 'PARTIALLY_REVERSIBLE', 'IRREVERSIBLE']],
    ['execution mode', 'Proposal', 'spec.reversibility.executionMode', ['commit', 'draft', 'preview']],
    ['envelope execution mode', 'Job', 'spec.envelope.reversibility.executionMode', ['commit', 'draft', 'preview']],
    ['cleanup cost', 'Proposal', 'spec.reversibility.cleanupCost', ['LOW', 'MEDIUM', 'HIGH']],
    ['write scope', 'Proposal', 'spec.envelope.autonomyBudget.maxWriteScope', ['none', 'sandbox', 'staging', 'prod']],
    ['envelope write scope', 'Job', 'spec.envelope.autonomyBudget.maxWriteScope', ['none', 'sandbox', 'staging', 'prod']],
    ['policy write-scope ceiling', 'GovernancePolicy', 'spec.envelope.ceiling.maxWriteScope', ['none', 'sandbox', 'staging', 'prod']],
    ['safety mode', 'Proposal', 'spec.envelope.safetyMode', ['safe_default', 'governed', 'restricted']],
    ['envelope safety mode', 'Job', 'spec.envelope.safetyMode', ['safe_default', 'governed', 'restricted']],
    ['model source', 'Job', 'spec.envelope.modelSource', ['closed', 'open']],
    ['intent mode', 'Proposal', 'spec.intent.mode', ['plan', 'build', 'fix', 'report', 'ship']],
    ['job phase', 'Job', 'status.phase', ['Pending', 'Running', 'Succeeded', 'Failed']],
    ['condition status', 'Proposal', 'status.conditions.[].status', ['True', 'False', 'Unknown']],
  ];
  it.each(enums)('%s (%s %s)', (_what, kind, path, values) => {
    const node = at(kind, path);
    expect(node.enum).toEqual(values);
    expect(node.maxLength).toBe(Math.max(...values.map((v) => v.length)));
  });

  it('every proposal phase and approval reason is enumerated', () => {
    expect(at('Proposal', 'status.phase').enum).toContain('AwaitingApproval');
    expect(at('Proposal', 'status.phase').enum).toHaveLength(11);
    expect(at('Approval', 'status.reason').enum).toEqual([
      'Accepted',
      'HashMismatch',
      'UIDMismatch',
      'SelfApproval',
      'Expired',
      'ChallengeFailed',
      'NotRequired',
      'NotAuthorized',
      'AlreadyResolved',
    ]);
  });
});

describe('CRD schemas: numeric bounds', () => {
  it('riskScore and claim confidence are numbers in 0..1', () => {
    for (const path of ['spec.riskScore', 'spec.truthAccount.claims.[].confidence']) {
      expect(at('Proposal', path)).toMatchObject({ type: 'number', minimum: 0, maximum: 1 });
    }
    expect(at('AgentProfile', 'spec.maxRisk')).toMatchObject({ type: 'number', minimum: 0, maximum: 1 });
  });

  it('autonomy budget bounds are the seed bounds (seed-api §1.7), as integers, wherever a budget appears', () => {
    expect(BUDGET_BOUNDS).toEqual({
      maxSteps: { min: 1, max: 10000, default: 100 },
      maxToolCalls: { min: 1, max: 1000, default: 50 },
      maxParallelAgents: { min: 1, max: 10, default: 1 },
      maxRuntimeSeconds: { min: 1, max: 3600, default: 300 },
      maxExternalIO: { min: 0, max: 100, default: 10 },
    });
    const budgets: [KindName, string][] = [
      ['Proposal', 'spec.envelope.autonomyBudget'],
      ['Decision', 'spec.effectiveEnvelope.autonomyBudget'],
      ['Job', 'spec.envelope.autonomyBudget'],
      ['GovernancePolicy', 'spec.envelope.defaults.autonomyBudget'],
      ['GovernancePolicy', 'spec.envelope.ceiling'],
    ];
    for (const [kind, path] of budgets) {
      for (const [field, b] of Object.entries(BUDGET_BOUNDS)) {
        expect(at(kind, `${path}.${field}`), `${kind} ${path}.${field}`).toMatchObject({ type: 'integer', minimum: b.min, maximum: b.max });
      }
    }
    // A requested budget may leave fields out (policy defaults fill them); the effective one may not.
    expect(at('Proposal', 'spec.envelope.autonomyBudget').required).toBeUndefined();
    expect(at('Job', 'spec.envelope.autonomyBudget').required).toEqual([...Object.keys(BUDGET_BOUNDS), 'maxWriteScope']);
  });

  it('integers are integers', () => {
    for (const [kind, path] of [
      ['Job', 'spec.envelope.retryLimit'],
      ['Job', 'spec.envelope.budgetMultiplierPercent'],
      ['Job', 'spec.envelope.egress.[].port'],
      ['Decision', 'spec.requiredApprovals.count'],
      ['Job', 'status.receipt.v'],
    ] as const) {
      expect(at(kind, path).type, `${kind} ${path}`).toBe('integer');
    }
  });
});

describe('CRD schemas: required fields and immutability', () => {
  it('effects has at least one item; steps too', () => {
    expect(at('Proposal', 'spec.effects').minItems).toBe(1);
    expect(at('Proposal', 'spec.steps').minItems).toBe(1);
    expect(at('Job', 'spec.envelope.steps').minItems).toBe(1);
  });

  it('spec is required on every kind', () => {
    for (const kind of KIND_NAMES) expect(root(kind).required, kind).toEqual(['spec']);
  });

  it.each(['Proposal', 'Decision', 'Approval', 'Job'] as const)('%s spec is immutable (self == oldSelf)', (kind) => {
    expect(at(kind, 'spec')['x-kubernetes-validations']).toEqual(IMMUTABLE_SPEC);
    expect(IMMUTABLE_SPEC[0]).toMatchObject({ rule: 'self == oldSelf' });
    expect(IMMUTABLE_SPEC[0]!.message).toMatch(/spec is immutable/);
  });

  it.each(['AgentProfile', 'GovernancePolicy', 'Tool'] as const)('%s spec can be edited by admins', (kind) => {
    const rules = (at(kind, 'spec')['x-kubernetes-validations'] as { rule: string }[] | undefined) ?? [];
    expect(rules.map((r) => r.rule)).not.toContain('self == oldSelf');
    expect(rules.some((r) => r.rule.includes('oldSelf'))).toBe(false);
  });

  it('defaults match zod defaults, so the stored object hashes like the parsed one', () => {
    expect(at('Proposal', 'spec.steps.[].args').default).toEqual({});
    expect(at('Proposal', 'spec.artifacts').default).toEqual([]);
    expect(at('Proposal', 'spec.truthAccount.observations').default).toEqual([]);
    expect(at('Proposal', 'spec.reversibility.executionMode').default).toBe('commit');
  });
});

describe('CRD schemas: the Tool kind', () => {
  const rules = (node: SchemaNode) => ((node['x-kubernetes-validations'] as { rule: string; message: string }[] | undefined) ?? []);

  it('refuses an image without a digest at the API server (CEL), with a message naming the requirement', () => {
    const [rule] = rules(at('Tool', 'spec.image'));
    expect(rule?.rule).toMatch(/^self\.matches\('.*@sha256:\[0-9a-f\]\{64\}\$'\)$/);
    expect(rule?.message).toMatch(/pinned by digest/);
  });

  it('checks the tool name at the root (only metadata.name is visible there) and the argv placeholders on spec', () => {
    expect(rules(root('Tool')).map((r) => r.rule)).toEqual([expect.stringContaining('self.metadata.name.matches') as unknown]);
    expect(rules(at('Tool', 'spec')).map((r) => r.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/every \{arg\} placeholder/), expect.stringMatching(/required or have a default/)]) as unknown,
    );
    expect(rules(at('Tool', 'spec.argv')).map((r) => r.rule)).toEqual(['has(self[0].literal)']);
    expect(rules(at('Tool', 'spec.argv.[]')).map((r) => r.rule)).toEqual(['has(self.literal) != has(self.arg)']);
  });

  it('has no valueFrom in env: a tool never receives secrets', () => {
    expect(Object.keys(at('Tool', 'spec.env.[]').properties ?? {}).sort()).toEqual(['name', 'value']);
  });

  it('bounds outputs at 1 MiB and keeps names unique', () => {
    expect(at('Tool', 'spec.workspace.outputs.[].maxBytes').maximum).toBe(1_048_576);
    expect(at('Tool', 'spec.workspace.outputs')['x-kubernetes-list-type']).toBe('map');
  });
});

describe('CRD metadata', () => {
  const expected: Record<KindName, { plural: string; short: string; scope: string }> = {
    Proposal: { plural: 'proposals', short: 'prop', scope: 'Namespaced' },
    Decision: { plural: 'decisions', short: 'dec', scope: 'Namespaced' },
    Approval: { plural: 'approvals', short: 'appr', scope: 'Namespaced' },
    Job: { plural: 'jobs', short: 'gjob', scope: 'Namespaced' },
    AgentProfile: { plural: 'agentprofiles', short: 'agent', scope: 'Cluster' },
    GovernancePolicy: { plural: 'governancepolicies', short: 'gpol', scope: 'Cluster' },
    Tool: { plural: 'tools', short: 'tool', scope: 'Cluster' },
  };
  it.each(KIND_NAMES)('%s: group, version, names, scope, status subresource, printer columns', (kind) => {
    const crd = crds[kind];
    const e = expected[kind];
    expect(crd.metadata.name).toBe(`${e.plural}.governance.m87.io`);
    expect(crd.spec.group).toBe('governance.m87.io');
    expect(crd.spec.scope).toBe(e.scope);
    expect(crd.spec.names).toMatchObject({ kind, plural: e.plural, shortNames: [e.short], categories: ['m87'] });
    expect(crd.spec.versions).toHaveLength(1);
    const v = crd.spec.versions[0]!;
    expect(v).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    const columns = v.additionalPrinterColumns.map((c) => c.name);
    expect(columns.at(-1)).toBe('Age');
    expect(columns.length).toBeGreaterThanOrEqual(3);
  });
});

describe('schema generation refuses what would make a poor CRD', () => {
  const described = (s: z.ZodType) => s.meta({ description: 'x' });
  it.each([
    ['a property without a description', z.object({ a: z.string().max(3) }), /\.a: property has no description/],
    ['an unbounded string', z.object({ a: described(z.string()) }), /\.a: string without maxLength/],
    ['an unbounded list', z.object({ a: described(z.array(z.string().max(1))) }), /\.a: array without maxItems/],
    ['an unbounded map', z.object({ a: described(z.record(z.string(), z.string().max(1))) }), /\.a: map without maxProperties/],
    ['a union', z.object({ a: described(z.union([z.string().max(1), z.int()])) }), /\.a: 'anyOf' is not allowed/],
    ['a nullable field', z.object({ a: described(z.string().max(1).nullable()) }), /\.a: 'nullable' is not allowed/],
  ])('%s', (_what, schema, message) => {
    expect(() => schemaFor(schema, 'T.spec')).toThrow(SchemaGenerationError);
    expect(() => schemaFor(schema, 'T.spec')).toThrow(message);
  });
});
