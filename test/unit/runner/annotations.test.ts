import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatMap, goQuote } from '../../../dev/process-node/downward-api.ts';
import { AnnotationsParseError, goUnquote, parseAnnotationsFile } from '../../../src/runner/annotations.ts';

describe('downward-API annotations parser', () => {
  it('parses kubelet lines with Go-quoted values', () => {
    const text = [
      'governance.m87.io/envelope="{\\"a\\":[1,2],\\"b\\":\\"x\\\\y\\"}"',
      'governance.m87.io/job-uid="6f1c2a9e-0d7b"',
      'kubernetes.io/config.seen="2025-01-01T00:00:00Z"',
    ].join('\n');
    const m = parseAnnotationsFile(text);
    expect(m.get('governance.m87.io/envelope')).toBe('{"a":[1,2],"b":"x\\y"}');
    expect(m.get('governance.m87.io/job-uid')).toBe('6f1c2a9e-0d7b');
    expect(m.size).toBe(3);
  });

  it('decodes every Go escape form', () => {
    expect(goUnquote('"\\a\\b\\f\\n\\r\\t\\v\\\\\\""')).toBe('\x07\b\f\n\r\t\v\\"');
    expect(goUnquote('"\\x41\\101\\u00e9\\U0001F600"')).toBe('AAé😀');
    expect(goUnquote('"\\xc3\\xa9"')).toBe('é'); // raw bytes forming UTF-8
    expect(goUnquote('"plain ✓ text"')).toBe('plain ✓ text');
    expect(goUnquote('""')).toBe('');
  });

  it('accepts a trailing newline and blank lines', () => {
    expect([...parseAnnotationsFile('a="1"\n\nb="2"\n')]).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(parseAnnotationsFile('').size).toBe(0);
  });

  it.each([
    ['unquoted value', 'a=1'],
    ['missing closing quote', 'a="1'],
    ['unescaped quote inside', 'a="x"y"'],
    ['unknown escape', 'a="\\q"'],
    ["single-quote escape (not valid in Go double-quoted strings)", 'a="\\\'"'],
    ['short \\x escape', 'a="\\x4"'],
    ['short \\u escape', 'a="\\u12"'],
    ['surrogate code point', 'a="\\ud800"'],
    ['code point beyond Unicode', 'a="\\U00110000"'],
    ['octal beyond a byte', 'a="\\777"'],
    ['raw bytes that are not UTF-8', 'a="\\xff"'],
    ['duplicate key', 'a="1"\na="2"'],
    ['no key', '="1"'],
    ['no equals sign', 'just text'],
    ['key with spaces', 'a b="1"'],
    ['trailing escape', 'a="\\"'],
  ])('refuses %s', (_name, text) => {
    expect(() => parseAnnotationsFile(text)).toThrow(AnnotationsParseError);
  });

  it('round-trips everything the kubelet formatter produces', () => {
    const key = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,20}\/)?[a-z0-9]([a-z0-9._-]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.dictionary(key, fc.string({ unit: 'binary', maxLength: 80 })), (map) => {
        const parsed = parseAnnotationsFile(formatMap(map));
        expect(Object.fromEntries(parsed)).toEqual(map);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips a real envelope with control characters and non-ASCII text', () => {
    const value = JSON.stringify({ message: 'line1\nline2\t"q" \\ é ✓ 😀 \u0001 \u007f \u0085' });
    expect(goUnquote(goQuote(value))).toBe(value);
  });
});
