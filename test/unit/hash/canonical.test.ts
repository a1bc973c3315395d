import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CanonicalizationError, canonicalHash, canonicalJson } from '../../../src/hash/canonical.ts';

/** A double from its IEEE 754 bit pattern (the form RFC 8785 Appendix B gives its number vectors in). */
function fromBits(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0);
}

describe('canonicalJson: RFC 8785 (JCS)', () => {
  it('serialises the RFC 8785 §3.2.2 sample exactly', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('orders keys by UTF-16 code units (RFC 8785 §3.2.3), not by code points or locale', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Compare the text: JSON.parse would move the integer-like key "1" first again.
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB33 although its code point is larger.
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(canonicalJson({ b: 1, a: 2, A: 3, aa: 4, '': 5 })).toBe('{"":5,"A":3,"a":2,"aa":4,"b":1}');
  });

  it('sorts nested objects at every level and keeps array order', () => {
    expect(canonicalJson({ z: { y: [3, { b: 1, a: [{ d: 1, c: 2 }] }], x: null }, a: {} })).toBe(
      '{"a":{},"z":{"x":null,"y":[3,{"a":[{"c":2,"d":1}],"b":1}]}}',
    );
  });

  it('writes non-ASCII text as UTF-8, escaping only what JSON must', () => {
    expect(canonicalJson({ text: 'Grüße, 世界 😀 ✓' })).toBe('{"text":"Grüße, 世界 😀 ✓"}');
    expect(canonicalJson('\u0000\u001f\u007f\u2028"\\/')).toBe('"\\u0000\\u001f\u007f\u2028\\"\\\\/"');
    expect(canonicalJson('\b\f\n\r\t')).toBe('"\\b\\f\\n\\r\\t"');
  });

  it('does not normalise Unicode: a precomposed and a combining é hash differently', () => {
    const precomposed = 'caf\u00e9';
    const combining = 'cafe\u0301';
    expect(canonicalJson(precomposed)).toBe('"café"');
    expect(canonicalJson(combining)).toBe('"cafe\u0301"');
    expect(canonicalHash(precomposed)).not.toBe(canonicalHash(combining));
  });

  it('serialises numbers as ECMAScript does (RFC 8785 Appendix B vectors)', () => {
    const vectors: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'], // -0
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, expected] of vectors) expect(canonicalJson(fromBits(bits)), bits).toBe(expected);
  });

  it('handles -0, exponent forms and the largest safe integers', () => {
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson({ n: -0 })).toBe('{"n":0}');
    expect(canonicalJson(1e21)).toBe('1e+21');
    expect(canonicalJson(1e-7)).toBe('1e-7');
    expect(canonicalJson(1.5e300)).toBe('1.5e+300');
    expect(canonicalJson(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(canonicalJson(9007199254740991)).toBe('9007199254740991');
    expect(canonicalJson(-9007199254740991)).toBe('-9007199254740991');
  });

  it('refuses integers beyond ±(2^53-1) that would print as plain digits (they may not be the integer written)', () => {
    for (const n of [2 ** 53, 2 ** 53 + 2, -(2 ** 53), fromBits('4430000000000000'), fromBits('444b1ae4d6e2ef4f')]) {
      expect(() => canonicalJson({ deep: [{ n }] }), String(n)).toThrow(CanonicalizationError);
      expect(() => canonicalJson({ deep: [{ n }] }), String(n)).toThrow(/^\$\.deep\[0\]\.n: integer .* outside/);
    }
    // 9007199254740993 is read as ...992: accepting it would hash a number nobody wrote.
    expect(() => canonicalJson(JSON.parse('9007199254740993'))).toThrow(CanonicalizationError);
  });

  it('refuses NaN and ±Infinity, naming where they are', () => {
    expect(() => canonicalJson(NaN)).toThrow(/^\$: NaN is not a finite number/);
    expect(() => canonicalJson({ a: { b: Infinity } })).toThrow(/^\$\.a\.b: Infinity is not a finite number/);
    expect(() => canonicalJson([1, -Infinity])).toThrow(/^\$\[1\]: -Infinity is not a finite number/);
  });

  it('refuses values that are not plain JSON', () => {
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(/\$\.d: Date is not a plain JSON object/);
    expect(() => canonicalJson({ n: 10n })).toThrow(/\$\.n: bigint is not JSON/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/\$\.f: function is not JSON/);
    expect(() => canonicalJson([undefined])).toThrow(/\$\[0\]: undefined is not JSON/);
    expect(() => canonicalJson(undefined)).toThrow(CanonicalizationError);
    expect(() => canonicalJson(new Map())).toThrow(/Map is not a plain JSON object/);
  });

  it('treats a property whose value is undefined as absent', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson(Object.assign(Object.create(null) as object, { b: 2, a: 1 }))).toBe('{"a":1,"b":2}');
  });
});

describe('canonicalHash', () => {
  it('is lowercase hex SHA-256 of the UTF-8 canonical form', () => {
    expect(canonicalHash({})).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    const value = { é: '😀', a: [1, 2.5, -0] };
    expect(canonicalHash(value)).toBe(createHash('sha256').update(Buffer.from(canonicalJson(value), 'utf8')).digest('hex'));
    expect(canonicalHash(value)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on the key order of the input', () => {
    expect(canonicalHash({ a: 1, b: { c: [1, { e: 2, d: 3 }] } })).toBe(canonicalHash({ b: { c: [1, { d: 3, e: 2 }] }, a: 1 }));
  });
});
