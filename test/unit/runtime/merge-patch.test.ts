import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMergePatch, createMergePatch, jsonEqual } from '../../../src/runtime/merge-patch.ts';

// JSON without nulls: merge patch cannot express "set to null" (null means delete), as RFC 7386 says.
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.boolean(),
    fc.integer(),
    fc.string(),
    fc.array(tie('value'), { maxLength: 3 }),
    tie('object'),
  ),
  object: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'status', 'phase'), tie('value'), { maxKeys: 4 }),
})).object;

describe('createMergePatch', () => {
  it('produces a patch that turns from into to', () => {
    fc.assert(
      fc.property(jsonValue, jsonValue, (from, to) => {
        const patch = createMergePatch(from, to);
        const result = patch === undefined ? from : applyMergePatch(from, patch);
        expect(jsonEqual(result, to)).toBe(true);
      }),
    );
  });

  it('is undefined exactly when nothing changed', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(createMergePatch(value, structuredClone(value))).toBeUndefined();
      }),
    );
  });

  it('sends removed fields as null and replaces arrays whole', () => {
    expect(
      createMergePatch(
        { status: { phase: 'A', message: 'x', conditions: [{ type: 'R' }] } },
        { status: { phase: 'B', conditions: [{ type: 'R' }, { type: 'S' }] } },
      ),
    ).toEqual({ status: { phase: 'B', message: null, conditions: [{ type: 'R' }, { type: 'S' }] } });
  });

  it('ignores members that are undefined', () => {
    expect(createMergePatch({ a: 1 }, { a: 1, b: undefined })).toBeUndefined();
  });
});
