// One copy of each repeated string in the controller's caches (string-table.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CACHE_STRINGS, CACHE_TRANSFORMS } from '../../../src/controller/informers.ts';
import { parseProposal } from '../../../src/controller/parse.ts';
import { StringTable } from '../../../src/controller/string-table.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { proposalArb } from '../../chaos/support/proposal-arbitrary.ts';
import { decisionFor, spec } from './fixtures.ts';

describe('StringTable', () => {
  it('returns the first copy of a string for every later equal one, and leaves the graph otherwise as it was', () => {
    const table = new StringTable();
    const a = table.internAll(JSON.parse('{"kind":"Job","metadata":{"uid":"u-1","resourceVersion":"7","labels":{"x":"m87"}},"list":["m87",{"deep":"Job"}]}') as KubeObject);
    const b = table.internAll(JSON.parse('{"kind":"Job","metadata":{"uid":"u-1","resourceVersion":"7","labels":{"x":"m87"}},"list":["m87",{"deep":"Job"}]}') as KubeObject);
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe('{"kind":"Job","metadata":{"uid":"u-1","resourceVersion":"7","labels":{"x":"m87"}},"list":["m87",{"deep":"Job"}]}');
    // kind, the label value, the list's strings: in the table; uid and resourceVersion (unique per version) are not.
    expect(table.size()).toBe(2);
  });

  it('is bounded: at capacity it starts over; long strings are not kept', () => {
    const table = new StringTable({ capacity: 3, maxLength: 8 });
    for (const s of ['a', 'b', 'c']) table.intern(s);
    expect(table.size()).toBe(3);
    expect(table.intern('d')).toBe('d');
    expect(table.size()).toBe(1);
    table.intern('x'.repeat(9));
    expect(table.size()).toBe(1);
  });

  it('does not keep what only one object version holds: condition messages, long strings (default limit 128)', () => {
    const table = new StringTable();
    const obj = table.internAll({ status: { conditions: [{ type: 'Ready', message: 'Job a is starting.' }] }, patch: 'x'.repeat(129), hash: 'h'.repeat(71) });
    expect(obj.status.conditions[0]!.message).toBe('Job a is starting.');
    // 'Ready' and the 71-character hash (shared by a tree's objects) are kept; the message and the patch are not.
    expect(table.size()).toBe(2);
  });

  it('shares short lists of strings whole (one frozen array per distinct list); other arrays stay in place', () => {
    const table = new StringTable();
    const a = table.internAll({ effects: ['READ_REPO', 'RUN_TESTS'], mixed: ['x', { y: 'z' }], empty: [] as string[] });
    const b = table.internAll({ effects: ['READ_REPO', 'RUN_TESTS'], other: ['RUN_TESTS', 'READ_REPO'] });
    expect(b.effects).toBe(a.effects);
    expect(Object.isFrozen(a.effects)).toBe(true);
    expect(b.other).toEqual(['RUN_TESTS', 'READ_REPO']);
    expect(b.other).not.toBe(a.effects);
    expect(Object.isFrozen(a.mixed)).toBe(false);
    expect(a.mixed).toEqual(['x', { y: 'z' }]);
    const long = Array.from({ length: 9 }, (_, i) => `e${i}`);
    expect(table.internAll({ long }).long).toBe(long);
  });

  it('never changes a value: lists that join to the same text stay apart (NUL inside, empty strings)', () => {
    const table = new StringTable();
    table.internAll({ observations: ['READ_REPO\u0000RUN_TESTS'], other: ['\u0000'] });
    const later = table.internAll({ effects: ['READ_REPO', 'RUN_TESTS'], other: ['', ''] });
    expect(later).toEqual({ effects: ['READ_REPO', 'RUN_TESTS'], other: ['', ''] });
    // Any sequence of graphs, over an alphabet that makes such lists likely: each comes out as it went in.
    fc.assert(
      fc.property(fc.array(fc.array(fc.array(fc.constantFrom('', '\u0000', 'a', 'a\u0000', '\u0000a', '"', ','), { maxLength: 3 }).map((parts) => parts.join('')), { maxLength: 5 }), { maxLength: 8 }), (lists) => {
        const t = new StringTable();
        for (const list of lists) expect(t.internAll({ list: [...list], nested: { list: [...list] } })).toEqual({ list, nested: { list } });
      }),
      { numRuns: 300 },
    );
  });

  it("an agent's list never stands in the cache for another proposal's: the cached Proposal hashes as its parse", () => {
    const proposal = (name: string, overrides: Parameters<typeof spec>[0]): KubeObject =>
      JSON.parse(JSON.stringify({ apiVersion: 'governance.m87.io/v1alpha1', kind: 'Proposal', metadata: { name, namespace: 'team-a', uid: `uid-${name}`, resourceVersion: '1' }, spec: spec(overrides) })) as KubeObject;
    // First in the cache: an observation list whose text is the other proposal's effects joined with NUL.
    CACHE_TRANSFORMS.proposals(proposal('first', { truthAccount: { observations: ['READ_REPO\u0000RUN_TESTS'], claims: [] } }));
    const victim = proposal('victim', { effects: ['READ_REPO', 'RUN_TESTS'] });
    const direct = parseProposal(structuredClone(victim));
    const cached = parseProposal(CACHE_TRANSFORMS.proposals(victim));
    expect(direct.ok && cached.ok).toBe(true);
    if (!direct.ok || !cached.ok) return;
    expect(cached.value.proposal.spec.effects).toEqual(['READ_REPO', 'RUN_TESTS']);
    expect(cached.value.hash).toBe(direct.value.hash);
  });

  it('the Proposal cache transform never changes what is decided: generated Proposals parse and hash as uncached', () => {
    // The chaos fuzz's Proposals (unicode, NUL, limits, path tricks), each cached after all earlier ones in the
    // informers' shared string table, as in the controller.
    fc.assert(
      fc.property(fc.array(proposalArb('casey', ['system:serviceaccount:a:casey', 'system:serviceaccount:b:other']), { minLength: 2, maxLength: 12 }), (generated) => {
        generated.forEach((g, i) => {
          const obj = JSON.parse(JSON.stringify({ apiVersion: 'governance.m87.io/v1alpha1', kind: 'Proposal', metadata: { name: `p-${i}`, namespace: 'ns', uid: `u-${i}`, resourceVersion: '1' }, spec: g.spec ?? null })) as KubeObject;
          const direct = parseProposal(structuredClone(obj));
          const cached = parseProposal(CACHE_TRANSFORMS.proposals(obj));
          expect(cached.ok).toBe(direct.ok);
          if (direct.ok && cached.ok) {
            expect(cached.value.hash).toBe(direct.value.hash);
            expect(cached.value.proposal.spec).toEqual(direct.value.proposal.spec);
          }
        });
      }),
      { numRuns: 150 },
    );
  });

  it('leaves frozen parts alone (they are shared already)', () => {
    const table = new StringTable();
    const shared = Object.freeze({ s: 'frozen' });
    const obj = { a: 'x', shared };
    expect(() => table.internAll(obj)).not.toThrow();
    expect(table.size()).toBe(1);
  });

  it("the informers' transforms intern what they keep: a cached Decision equals its parse", () => {
    const before = CACHE_STRINGS.size();
    const raw = structuredClone(decisionFor()) as unknown as KubeObject;
    raw.metadata = { ...raw.metadata, resourceVersion: '1' };
    const cached = CACHE_TRANSFORMS.decisions(raw);
    const { effectiveEnvelope: _dropped, ...kept } = decisionFor().spec; // compact.ts: the cache keeps no envelope
    expect(cached.spec).toEqual(kept);
    expect(CACHE_STRINGS.size()).toBeGreaterThan(before);
  });
});
