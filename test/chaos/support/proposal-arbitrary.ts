// fast-check arbitraries for Proposal objects: a base that the schema accepts (but the policy may well deny:
// unknown agents, foreign submitters, path tricks, tripwires, secrets, risky scores …), then 0–2 mutations that
// push it past the schema: unicode, strings at and past each length limit, deep values, numbers at and past the
// bounds, wrong types, unknown enum values, too many items, missing required fields, odd names. Each mutation
// records the field paths it touched (Kubernetes notation), so a rejection can be checked to name one of them.
import fc from 'fast-check';
import { EFFECT_TAGS } from '../../../src/api/effects.ts';
import { BUDGET_BOUNDS } from '../../../src/api/envelope.ts';
import { ARTIFACT_TYPES, INTENT_MODES } from '../../../src/api/proposal.ts';
import { TEST_CATALOGUE } from '../../support/tool-catalogue.ts';

export type Path = readonly (string | number)[];

export interface Mutation {
  readonly kind: string;
  /** Field paths (Kubernetes notation, e.g. spec.steps[0].args) the mutation touched or created. */
  readonly anchors: readonly string[];
}

export interface GeneratedProposal {
  /** Name shape; the caller appends a unique suffix (see nameFor). */
  readonly nameShape: NameShape;
  /** Usually an object; a mutation may have removed it or replaced it with another type. */
  readonly spec: unknown;
  readonly mutations: readonly Mutation[];
}

export type NameShape = 'short' | 'dotted' | 'long' | 'uppercase' | 'too-long' | 'underscore';

/** Kubernetes field notation: spec.steps[0].args.path */
export function fieldPath(path: Path): string {
  let out = '';
  for (const segment of path) out += typeof segment === 'number' ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  return out;
}

/** An object name of the given shape that ends with `unique` (lowercase alphanumerics). */
export function nameFor(shape: NameShape, unique: string): string {
  switch (shape) {
    case 'short':
      return `fz-${unique}`;
    case 'dotted':
      return `fz.${unique}.a-b.c`;
    case 'long':
      return `fz-${'a'.repeat(253 - 4 - unique.length)}${unique}`;
    case 'uppercase':
      return `Fz-${unique}`;
    case 'too-long':
      return `fz-${'a'.repeat(254 - 3 - unique.length)}${unique}`;
    case 'underscore':
      return `fz_${unique}`;
    default: {
      const never: never = shape;
      throw new Error(`unknown name shape ${String(never)}`);
    }
  }
}

export const INVALID_NAME_SHAPES: ReadonlySet<NameShape> = new Set(['uppercase', 'too-long', 'underscore']);

const SPECIAL_TEXT = [
  '\u0000',
  'nul\u0000inside',
  '\u202eevil.sh', // right-to-left override
  'e\u0301\u0302\u0303', // combining marks
  '🦀🚀👩‍👩‍👧‍👦', // astral and ZWJ sequences
  '\ud800', // lone surrogate (the API server stores U+FFFD)
  '\ufeffbom',
  'ｆｕｌｌｗｉｄｔｈ',
  '\u200b\u200c\u200d',
  '"; DROP TABLE proposals; --',
  '${jndi:ldap://127.0.0.1/x}',
  '{{ .Values.secret }}',
  '\\\\?\\C:\\Windows',
];

const PATH_TRICKS = [
  'notes/a.md',
  '/workspace/notes/a.md',
  '//sys/kernel/notes',
  '/dev/./shm/x',
  '/workspace/../dev/shm/x',
  '/proc/self/environ',
  '/proc/self/status',
  '/proc/../sys/power/state',
  '/run/secrets/token',
  '../../etc/passwd',
  '/dev/shm',
  '/dev/pts/0',
  '%2fsys%2fkernel',
  '/ѕys/kernel', // Cyrillic s
  '/sys\u0000/x',
  '/workspace//..//dev/mqueue/q',
  '\\sys\\kernel',
  '/workspace/\u2215sys', // division slash
  '/SYS/kernel',
  '/sys',
];

const CODE = ['print("hello")', 'import socket\nsocket.create_connection(("127.0.0.1", 1))', 'x = os.environ["TOKEN"]', 'eval(input())', 'echo hi', '__import__("os")'];

function text(max: number, minLength = 0): fc.Arbitrary<string> {
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.string({ minLength, maxLength: Math.min(max, 40) }) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(max, 12) }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength, maxLength: Math.min(max, 12) }) },
      { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_TEXT) },
    )
    .filter((s) => s.length >= minLength && [...s].length <= max && (minLength === 0 || s.length > 0));
}

const pathArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PATH_TRICKS) }, { weight: 1, arbitrary: text(200) });

function argsFor(tool: string): fc.Arbitrary<Record<string, string>> {
  const spec = TEST_CATALOGUE.get(tool);
  const names = Object.keys(spec?.args ?? { value: {} });
  const model: Record<string, fc.Arbitrary<string>> = {};
  for (const name of names) {
    const arg = spec?.args[name];
    model[name] = arg?.pathLike === true ? pathArb : arg?.enum !== undefined ? fc.constantFrom(...arg.enum, 'no-such-value') : arg?.format === 'url' ? fc.constantFrom('https://hooks.example.com/x', 'http://127.0.0.1:6443/api', 'file:///etc/passwd', 'not a url') : text(200);
  }
  return fc.record(model, { requiredKeys: [] }).map((args) => Object.fromEntries(Object.entries(args).filter((e): e is [string, string] => e[1] !== undefined)));
}

const stepArb = fc
  .oneof({ weight: 6, arbitrary: fc.constantFrom(...TEST_CATALOGUE.keys()) }, { weight: 1, arbitrary: fc.constantFrom('rm-rf', 'shell', 'kubectl', 'file_write') })
  .chain((tool) => argsFor(tool).map((args) => ({ tool, args })));

const artifactArb = fc.record(
  {
    type: fc.constantFrom(...ARTIFACT_TYPES),
    path: pathArb,
    source: pathArb,
    destination: pathArb,
    target: pathArb,
    content: fc.oneof(fc.constantFrom(...CODE), text(200)),
  },
  { requiredKeys: ['type'] },
);

const unitDouble = fc.oneof(
  { weight: 3, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, -0, 5e-324, 0.4, 0.5, 0.6, 0.6000000000000001, 0.9999999999999999, 1e-7) },
);

function budgetValue(key: keyof typeof BUDGET_BOUNDS): fc.Arbitrary<number> {
  const b = BUDGET_BOUNDS[key];
  return fc.oneof(fc.constantFrom(b.min, b.max, b.default), fc.integer({ min: b.min, max: b.max }));
}

const envelopeArb = fc.record(
  {
    modelId: text(256, 1),
    modelSource: fc.constantFrom('closed', 'open'),
    safetyMode: fc.constantFrom('safe_default', 'governed', 'restricted'),
    autonomyBudget: fc.record(
      {
        maxSteps: budgetValue('maxSteps'),
        maxToolCalls: budgetValue('maxToolCalls'),
        maxParallelAgents: budgetValue('maxParallelAgents'),
        maxRuntimeSeconds: budgetValue('maxRuntimeSeconds'),
        maxExternalIO: budgetValue('maxExternalIO'),
        maxWriteScope: fc.constantFrom('none', 'sandbox', 'staging', 'prod'),
      },
      { requiredKeys: [] },
    ),
    egress: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(fc.record({ host: fc.constantFrom('hooks.example.com', '127.0.0.1', 'kubernetes.default.svc', '::1', '10.0.0.1'), port: fc.constantFrom(1, 80, 443, 6443, 65535) }), { minLength: 1, maxLength: 2 }) },
    ),
  },
  { requiredKeys: [] },
);

const reversibilityArb = fc.record(
  {
    class: fc.constantFrom('REVERSIBLE', 'PARTIALLY_REVERSIBLE', 'IRREVERSIBLE'),
    rollbackProof: fc.record({ description: text(200, 1) }),
    executionMode: fc.constantFrom('commit', 'draft', 'preview'),
    cleanupCost: fc.constantFrom('LOW', 'MEDIUM', 'HIGH'),
  },
  { requiredKeys: [] },
);

/** A spec the schema accepts. `agent` and `submitter` are mostly the scenario's own, sometimes foreign. */
export function baseSpecArb(agentName: string, submitters: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      agent: fc.oneof({ weight: 8, arbitrary: fc.constant(agentName) }, { weight: 1, arbitrary: fc.constantFrom('casey', 'no-such-agent', 'a.b') }),
      submittedBy: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...submitters) }, { weight: 1, arbitrary: text(253, 1) }),
      summary: text(1024, 1),
      intent: fc.record({ id: text(128, 1), goal: text(2048, 1), mode: fc.constantFrom(...INTENT_MODES) }),
      effects: fc.uniqueArray(fc.constantFrom(...EFFECT_TAGS), { minLength: 1, maxLength: 4 }),
      steps: fc.array(stepArb, { minLength: 1, maxLength: 3 }),
      artifacts: fc.array(artifactArb, { maxLength: 2 }),
      truthAccount: fc.record({ observations: fc.array(text(200), { maxLength: 2 }), claims: fc.array(fc.record({ text: text(200, 1), confidence: unitDouble }), { maxLength: 2 }) }),
      riskScore: unitDouble,
      envelope: envelopeArb,
      reversibility: reversibilityArb,
      supersedes: fc.constantFrom('earlier', 'fz-0'),
    },
    { requiredKeys: ['agent', 'submittedBy', 'summary', 'intent', 'effects', 'steps', 'truthAccount'] },
  );
}

/**
 * A spec close to what a well-behaved agent sends (tools and declared effects agree, evidence, a rollback), with
 * the dangerous bits varied: paths, risk, extra effects, code, envelope. Many of these are allowed.
 */
export function plausibleSpecArb(agentName: string, submitters: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const benignPath = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('notes/a.md', 'src/x.ts', 'README.md') }, { weight: 1, arbitrary: fc.constantFrom(...PATH_TRICKS) });
  const step = fc.oneof(
    fc.record({ tool: fc.constant('write-file'), args: fc.record({ path: benignPath, content: text(200) }) }),
    fc.record({ tool: fc.constant('echo'), args: fc.record({ message: text(200) }) }),
    fc.record({ tool: fc.constant('run-tests'), args: fc.record({ path: fc.constantFrom('tests', 'tests/test_cart.py', '.') }) }),
  );
  return fc
    .record({
      submittedBy: fc.constantFrom(...submitters),
      summary: text(200, 1),
      steps: fc.array(step, { minLength: 1, maxLength: 3 }),
      extraEffects: fc.subarray(['READ_REPO', 'COMPUTE', 'DEPLOY', 'READ_SECRETS', 'NETWORK_CALL'] as const, { maxLength: 2 }),
      observations: fc.array(text(200, 1), { minLength: 1, maxLength: 2 }),
      riskScore: fc.option(unitDouble, { nil: undefined }),
      artifacts: fc.array(fc.record({ type: fc.constantFrom('file', 'code', 'python_code', 'document'), path: benignPath, content: fc.constantFrom(...CODE) }), { maxLength: 1 }),
      envelope: fc.option(envelopeArb, { nil: undefined }),
    })
    .map((r) => {
      const effects = new Set<string>(r.extraEffects);
      for (const s of r.steps) for (const e of TEST_CATALOGUE.get(s.tool)?.effects ?? []) effects.add(e);
      return {
        agent: agentName,
        submittedBy: r.submittedBy,
        summary: r.summary,
        intent: { id: 'fuzz', goal: 'fuzz', mode: 'build' },
        effects: [...effects],
        steps: r.steps,
        artifacts: r.artifacts,
        truthAccount: { observations: r.observations, claims: [{ text: 'fine', confidence: 0.8 }] },
        ...(r.riskScore !== undefined ? { riskScore: Math.min(r.riskScore, 0.7) } : {}),
        ...(r.envelope !== undefined ? { envelope: r.envelope } : {}),
        reversibility: { class: 'REVERSIBLE', rollbackProof: { description: 'revert the commit' }, executionMode: 'commit', cleanupCost: 'LOW' },
      };
    });
}

/** Text fields and their limits (code points). */
const TEXT_LIMITS: readonly { path: Path; max: number }[] = [
  { path: ['spec', 'summary'], max: 1024 },
  { path: ['spec', 'submittedBy'], max: 253 },
  { path: ['spec', 'intent', 'id'], max: 128 },
  { path: ['spec', 'intent', 'goal'], max: 2048 },
  { path: ['spec', 'truthAccount', 'observations', 0], max: 2048 },
  { path: ['spec', 'artifacts', 0, 'path'], max: 4096 },
  { path: ['spec', 'artifacts', 0, 'content'], max: 262144 },
  { path: ['spec', 'steps', 0, 'args', 'message'], max: 65536 },
];

const NUMBER_FIELDS: readonly Path[] = [
  ['spec', 'riskScore'],
  ['spec', 'truthAccount', 'claims', 0, 'confidence'],
  ['spec', 'envelope', 'autonomyBudget', 'maxSteps'],
  ['spec', 'envelope', 'autonomyBudget', 'maxExternalIO'],
  ['spec', 'envelope', 'egress', 0, 'port'],
];

const REQUIRED: readonly Path[] = [
  ['spec', 'agent'],
  ['spec', 'submittedBy'],
  ['spec', 'summary'],
  ['spec', 'intent'],
  ['spec', 'intent', 'id'],
  ['spec', 'intent', 'goal'],
  ['spec', 'intent', 'mode'],
  ['spec', 'effects'],
  ['spec', 'steps'],
  ['spec', 'truthAccount'],
  ['spec', 'steps', 0, 'tool'],
  ['spec'],
];

const ANY_FIELD: readonly Path[] = [...REQUIRED, ...NUMBER_FIELDS, ...TEXT_LIMITS.map((t) => t.path), ['spec', 'steps', 0, 'args'], ['spec', 'artifacts'], ['spec', 'reversibility', 'class']];

type Edit = (spec: Record<string, unknown>) => Mutation;

/** Sets path in root, creating containers on the way; returns the anchors (created containers and the field). */
function setAt(root: Record<string, unknown>, path: Path, value: unknown): string[] {
  const anchors: string[] = [];
  let node: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i] as string | number;
    if (i === path.length - 1) {
      node[key] = value;
      break;
    }
    const nextIsIndex = typeof path[i + 1] === 'number';
    let child = node[key];
    if (child === null || typeof child !== 'object' || Array.isArray(child) !== nextIsIndex) {
      child = nextIsIndex ? [] : {};
      node[key] = child;
      anchors.push(fieldPath(path.slice(0, i + 1)));
    }
    node = child as Record<string | number, unknown>;
  }
  anchors.push(fieldPath(path));
  return anchors;
}

function deleteAt(root: Record<string, unknown>, path: Path): void {
  let node: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<string | number, unknown>)[path[i] as string | number];
  }
  if (node !== null && typeof node === 'object') delete (node as Record<string | number, unknown>)[path[path.length - 1] as string | number];
}

function deep(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 3 === 0 ? [value] : { [`k${i}`]: value };
  return value;
}

const mutationArb: fc.Arbitrary<Edit> = fc.oneof(
  // A string at the limit (in astral code points: 2 UTF-16 units each) or one past it.
  fc.tuple(fc.constantFrom(...TEXT_LIMITS), fc.constantFrom(0, 1), fc.constantFrom('x', '🦀', 'é')).map(
    ([{ path, max }, over, ch]): Edit =>
      (spec) => ({ kind: over === 1 ? 'text past its limit' : 'text at its limit', anchors: setAt(spec, path, ch.repeat(max + over)) }),
  ),
  // Deep values: where a string/object is expected, and under an unknown field (pruned by the schema).
  fc.tuple(fc.constantFrom<Path>(['spec', 'steps', 0, 'args'], ['spec', 'intent', 'goal'], ['spec', 'truthAccount'], ['spec', 'unknownField'], ['spec', 'envelope', 'extra']), fc.integer({ min: 5, max: 90 })).map(
    ([path, depth]): Edit =>
      (spec) => ({ kind: path.includes('unknownField') || path.includes('extra') ? 'deep unknown field' : 'deep value', anchors: setAt(spec, path, deep(depth, 'leaf')) }),
  ),
  // Numbers at and past the bounds.
  fc.tuple(fc.constantFrom(...NUMBER_FIELDS), fc.constantFrom(-1e-300, 1.0000000000000002, 1e308, -0, 2 ** 53, 2 ** 53 + 2, 65536, 0.5, -1, 1e-7, 0, 10000, 10001)).map(
    ([path, value]): Edit =>
      (spec) => ({ kind: 'number at a bound', anchors: setAt(spec, path, value) }),
  ),
  // Wrong types.
  fc.tuple(fc.constantFrom(...ANY_FIELD), fc.constantFrom<unknown>(null, true, [], {}, 42, 'str', [1, 2])).map(
    ([path, value]): Edit =>
      (spec) => ({ kind: 'wrong type', anchors: setAt(spec, path, value) }),
  ),
  // Missing required fields.
  fc.constantFrom(...REQUIRED).map(
    (path): Edit =>
      (spec) => {
        deleteAt(spec, path);
        return { kind: 'missing field', anchors: [fieldPath(path)] };
      },
  ),
  // Unknown enum values, repeated set members, too many items, malformed argument names.
  fc.constantFrom<Edit>(
    (spec) => ({ kind: 'unknown enum value', anchors: setAt(spec, ['spec', 'effects', 0], 'EXFILTRATE') }),
    (spec) => ({ kind: 'unknown enum value', anchors: setAt(spec, ['spec', 'intent', 'mode'], 'destroy') }),
    (spec) => ({ kind: 'unknown enum value', anchors: setAt(spec, ['spec', 'artifacts', 0, 'type'], 'binary') }),
    (spec) => ({ kind: 'repeated effect', anchors: setAt(spec, ['spec', 'effects'], ['WRITE_PATCH', 'WRITE_PATCH']) }),
    (spec) => ({ kind: 'too many steps', anchors: setAt(spec, ['spec', 'steps'], Array.from({ length: 33 }, () => ({ tool: 'echo', args: { message: 'x' } }))) }),
    (spec) => ({ kind: 'too many arguments', anchors: setAt(spec, ['spec', 'steps', 0, 'args'], Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`a${i}`, 'x']))) }),
    (spec) => ({ kind: 'malformed argument name', anchors: [...setAt(spec, ['spec', 'steps', 0, 'args'], { 'x-y': 'v', '1abc': 'v' }), 'spec.steps[0].args'] }),
    (spec) => ({ kind: 'malformed tool name', anchors: setAt(spec, ['spec', 'steps', 0, 'tool'], '../bin/sh') }),
    (spec) => ({ kind: 'empty text', anchors: setAt(spec, ['spec', 'summary'], '') }),
  ),
);

export function proposalArb(agentName: string, submitters: readonly string[]): fc.Arbitrary<GeneratedProposal> {
  return fc
    .tuple(
      fc.oneof(baseSpecArb(agentName, submitters), plausibleSpecArb(agentName, submitters)),
      fc.array(mutationArb, { maxLength: 2 }),
      fc.oneof(
        { weight: 12, arbitrary: fc.constant<NameShape>('short') },
        { weight: 2, arbitrary: fc.constantFrom<NameShape>('dotted', 'long') },
        { weight: 1, arbitrary: fc.constantFrom<NameShape>('uppercase', 'too-long', 'underscore') },
      ),
    )
    .map(([base, edits, nameShape]) => {
      const root: Record<string, unknown> = { spec: structuredClone(base) };
      const mutations = edits.map((edit) => edit(root));
      return { nameShape, spec: root.spec, mutations };
    });
}
