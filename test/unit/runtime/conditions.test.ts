import { describe, expect, it } from 'vitest';
import { formatTime, getCondition, isConditionTrue, removeCondition, setCondition } from '../../../src/runtime/conditions.ts';

const t0 = new Date('2026-11-25T10:00:00.123Z');
const t1 = new Date('2026-11-25T11:00:00.000Z');

describe('setCondition', () => {
  it('adds a new condition stamped with now (seconds precision)', () => {
    const out = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending', observedGeneration: 2 }, t0);
    expect(out).toEqual([
      { type: 'Ready', status: 'False', reason: 'Pending', message: '', observedGeneration: 2, lastTransitionTime: '2026-11-25T10:00:00Z' },
    ]);
  });

  it('keeps lastTransitionTime when only reason, message or generation change', () => {
    const before = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending', message: 'a' }, t0);
    const after = setCondition(before, { type: 'Ready', status: 'False', reason: 'StillPending', message: 'b', observedGeneration: 3 }, t1);
    expect(after[0]).toMatchObject({ reason: 'StillPending', message: 'b', observedGeneration: 3, lastTransitionTime: '2026-11-25T10:00:00Z' });
  });

  it('bumps lastTransitionTime when status changes', () => {
    const before = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending' }, t0);
    const after = setCondition(before, { type: 'Ready', status: 'True', reason: 'Done' }, t1);
    expect(after[0]!.lastTransitionTime).toBe('2026-11-25T11:00:00Z');
  });

  it('replaces in place, keeps other conditions and their order, and does not mutate the input', () => {
    const base = setCondition(setCondition([], { type: 'A', status: 'True', reason: 'X' }, t0), { type: 'B', status: 'True', reason: 'Y' }, t0);
    const frozen = Object.freeze(base.map((c) => Object.freeze({ ...c })));
    const out = setCondition(frozen, { type: 'A', status: 'False', reason: 'Z' }, t1);
    expect(out.map((c) => c.type)).toEqual(['A', 'B']);
    expect(frozen[0]!.status).toBe('True');
    expect(getCondition(out, 'A')?.status).toBe('False');
    expect(isConditionTrue(out, 'B')).toBe(true);
    expect(isConditionTrue(out, 'A')).toBe(false);
    expect(isConditionTrue(out, 'Missing')).toBe(false);
    expect(removeCondition(out, 'A').map((c) => c.type)).toEqual(['B']);
  });

  it('rejects invalid input and names the field', () => {
    expect(() => setCondition([], { type: 'Ready', status: 'Yes' as 'True', reason: 'R' }, t0)).toThrow(/condition\.status/);
    expect(() => setCondition([], { type: 'Ready', status: 'True', reason: 'not camel case' }, t0)).toThrow(/condition\.reason/);
    expect(() => setCondition([], { type: '', status: 'True', reason: 'R' }, t0)).toThrow(/condition\.type/);
    expect(() => setCondition([], { type: 'Ready', status: 'True', reason: 'R', observedGeneration: -1 }, t0)).toThrow(
      /condition\.observedGeneration/,
    );
  });

  it('formats metav1.Time without fractional seconds', () => {
    expect(formatTime(new Date('2026-01-02T03:04:05.999Z'))).toBe('2026-01-02T03:04:05Z');
  });
});
