// renderArgv: arguments validated against the tool's schema and substituted as whole argv items, with
// hostile input refused by a reason code naming the argument.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ToolSpec, type ToolSpecInput } from '../../../src/api/tool.ts';
import { DEFAULT_CATALOGUE } from '../../../src/tool-catalogue/default-catalogue.ts';
import { MAX_ARGV_ITEM_BYTES, patchPaths, renderArgv, type ArgIssueCode } from '../../../src/tool-catalogue/render-argv.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function tool(overrides: Partial<ToolSpecInput> = {}): ToolSpec {
  return ToolSpec.parse({
    description: 'test tool',
    effects: ['COMPUTE'],
    minWriteScope: 'none',
    executionModes: ['commit'],
    args: {
      path: { type: 'string', required: true, maxLength: 256, pathLike: true },
      pattern: { type: 'string', required: true, maxLength: 64 },
      count: { type: 'int', minimum: 1, maximum: 10, default: '3' },
      verbose: { type: 'bool', default: 'false' },
      level: { type: 'enum', enum: ['low', 'high'], default: 'low' },
    },
    image: `registry.local:5000/tools/grep@${DIGEST}`,
    argv: [{ literal: 'grep' }, { literal: '-m' }, { arg: 'count' }, { arg: 'pattern' }, { literal: '--' }, { arg: 'path' }],
    timeoutSeconds: 10,
    network: false,
    ...overrides,
  });
}

function issues(t: ToolSpec, args: Record<string, unknown>): [ArgIssueCode, string][] {
  const r = renderArgv(t, args);
  return r.ok ? [] : r.issues.map((i) => [i.code, i.arg]);
}

describe('renderArgv: substitution', () => {
  it('substitutes each argument as one whole item and fills defaults', () => {
    expect(renderArgv(tool(), { path: 'src/a b.py', pattern: 'two words; rm -rf /' })).toEqual({
      ok: true,
      argv: ['grep', '-m', '3', 'two words; rm -rf /', '--', 'src/a b.py'],
    });
  });

  it('treats an empty string like an absent argument', () => {
    expect(renderArgv(tool(), { path: 'a', pattern: 'x', count: '' })).toMatchObject({ ok: true, argv: ['grep', '-m', '3', 'x', '--', 'a'] });
    expect(issues(tool(), { path: '', pattern: 'x' })).toEqual([['ARG_MISSING', 'path']]);
  });

  it('renders every shipped tool with valid arguments', () => {
    const commit = 'c'.repeat(40);
    const given: Record<string, Record<string, string>> = {
      'git-checkout': { repository: 'http://127.0.0.1:8080/demo.git', commit },
      'apply-patch': { patch: '--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n' },
      'run-tests': {},
      'http-get': { url: 'https://example.invalid/x' },
      notify: { url: 'https://example.invalid/hook', message: 'done\nall green' },
    };
    for (const [name, spec] of DEFAULT_CATALOGUE) {
      const r = renderArgv(spec, given[name]);
      expect(r.ok, `${name}: ${JSON.stringify(r)}`).toBe(true);
    }
    expect(renderArgv(DEFAULT_CATALOGUE.get('run-tests')!, {})).toMatchObject({ ok: true, argv: expect.arrayContaining(['--', '.']) as unknown });
  });
});

describe('renderArgv: hostile arguments are refused, naming the argument', () => {
  const base = { path: 'src', pattern: 'x' };

  it('option injection: a value starting with "-" before "--", unless the argument allows it', () => {
    expect(issues(tool(), { ...base, pattern: '--include=/etc/shadow' })).toEqual([['ARG_OPTION_INJECTION', 'pattern']]);
    expect(issues(tool(), { ...base, pattern: '-e' })).toEqual([['ARG_OPTION_INJECTION', 'pattern']]);
    // After the literal "--" the tool reads operands: a path named "-rf" is a file, not an option.
    expect(renderArgv(tool(), { ...base, path: '-rf' })).toMatchObject({ ok: true });
    const allowing = tool({
      args: { pattern: { type: 'string', required: true, maxLength: 64, allowLeadingDash: true }, path: { type: 'string', required: true, maxLength: 64 } },
      argv: [{ literal: 'grep' }, { arg: 'pattern' }, { literal: '--' }, { arg: 'path' }],
    });
    expect(renderArgv(allowing, base)).toMatchObject({ ok: true });
    expect(renderArgv(allowing, { ...base, pattern: '-v' })).toMatchObject({ ok: true });
  });

  it('an argument used both before and after "--" is checked at its riskiest position', () => {
    const t = tool({
      args: { x: { type: 'string', required: true, maxLength: 16 } },
      argv: [{ literal: 'echo' }, { arg: 'x' }, { literal: '--' }, { arg: 'x' }],
    });
    expect(issues(t, { x: '-n' })).toEqual([['ARG_OPTION_INJECTION', 'x']]);
  });

  it('negative integers are option-like too, unless allowed', () => {
    const t = tool({ args: { n: { type: 'int', required: true, minimum: -5, maximum: 5 } }, argv: [{ literal: 'seq' }, { arg: 'n' }] });
    expect(issues(t, { n: '-3' })).toEqual([['ARG_OPTION_INJECTION', 'n']]);
    const allowing = tool({ args: { n: { type: 'int', required: true, minimum: -5, maximum: 5, allowLeadingDash: true } }, argv: [{ literal: 'seq' }, { arg: 'n' }] });
    expect(renderArgv(allowing, { n: '-3' })).toEqual({ ok: true, argv: ['seq', '-3'] });
  });

  it.each([
    ['../etc/passwd', 'a .. segment'],
    ['src/../../x', 'climbing out'],
    ['src/../x', 'a .. that would stay inside (never needed, always refused)'],
    ['/etc/passwd', 'an absolute path outside the workspace'],
    ['/workspace/../etc', 'an absolute path climbing out'],
    ['/workspacex/a', 'a sibling of the workspace'],
  ])('path escapes: %s (%s)', (path) => {
    expect(issues(tool(), { ...base, path })).toEqual([['ARG_PATH_ESCAPES_WORKSPACE', 'path']]);
  });

  it('paths inside the workspace pass, absolute or relative', () => {
    for (const path of ['src/a.py', './src', '/workspace', '/workspace/src/a.py', 'a..b/c...d']) expect(renderArgv(tool(), { ...base, path }), path).toMatchObject({ ok: true });
  });

  it.each([
    ['x\u0000y', 'NUL'],
    ['x\ny', 'a newline'],
    ['x\ry', 'a carriage return'],
    ['x\ty', 'U+0009'],
    ['x\u001b[2Jy', 'U+001B'],
    ['x\u007fy', 'U+007F'],
    ['x\u0085y', 'U+0085'],
    ['x\u2028y', 'U+2028'],
  ])('control characters: %j (%s)', (pattern, what) => {
    const r = renderArgv(tool(), { ...base, pattern });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues).toHaveLength(1);
      expect(r.issues[0]).toMatchObject({ code: 'ARG_CONTROL_CHARACTER', arg: 'pattern' });
      expect(r.issues[0]?.message).toContain(what);
    }
  });

  it('multiline arguments take newlines and tabs, never NUL or escapes', () => {
    const t = tool({ args: { body: { type: 'string', required: true, maxLength: 64, multiline: true } }, argv: [{ literal: 'cat' }, { arg: 'body' }] });
    expect(renderArgv(t, { body: 'a\n\tb\r\n' })).toMatchObject({ ok: true });
    expect(issues(t, { body: 'a\u0000b' })).toEqual([['ARG_CONTROL_CHARACTER', 'body']]);
    expect(issues(t, { body: 'a\u001bb' })).toEqual([['ARG_CONTROL_CHARACTER', 'body']]);
  });

  it('oversize values: over maxLength (code points), or over one argv item in bytes', () => {
    expect(issues(tool(), { ...base, pattern: 'x'.repeat(65) })).toEqual([['ARG_TOO_LONG', 'pattern']]);
    expect(renderArgv(tool(), { ...base, pattern: '😀'.repeat(64) })).toMatchObject({ ok: true });
    const big = tool({ args: { blob: { type: 'string', required: true, maxLength: 65536 } }, argv: [{ literal: 'x' }, { arg: 'blob' }] });
    // 65536 three-byte characters fit maxLength but not one argv item (MAX_ARG_STRLEN).
    const value = 'あ'.repeat(65536);
    expect(Buffer.byteLength(value)).toBeGreaterThan(MAX_ARGV_ITEM_BYTES);
    expect(issues(big, { blob: value })).toEqual([['ARG_TOO_LONG', 'blob']]);
  });

  it('unknown, missing and non-string arguments', () => {
    expect(issues(tool(), { ...base, extra: 'x' })).toEqual([['ARG_UNKNOWN', 'extra']]);
    expect(issues(tool(), { pattern: 'x' })).toEqual([['ARG_MISSING', 'path']]);
    expect(issues(tool(), { ...base, pattern: 7 })).toEqual([['ARG_NOT_STRING', 'pattern']]);
    expect(issues(tool(), undefined as unknown as Record<string, unknown>)).toEqual([
      ['ARG_MISSING', 'path'],
      ['ARG_MISSING', 'pattern'],
    ]);
  });

  it('typed arguments: int, bool and enum', () => {
    expect(issues(tool(), { ...base, count: '3.5' })).toEqual([['ARG_NOT_INT', 'count']]);
    expect(issues(tool(), { ...base, count: '007' })).toEqual([['ARG_NOT_INT', 'count']]);
    expect(issues(tool(), { ...base, count: '11' })).toEqual([['ARG_OUT_OF_RANGE', 'count']]);
    expect(issues(tool(), { ...base, verbose: 'yes' })).toEqual([['ARG_NOT_BOOL', 'verbose']]);
    expect(issues(tool(), { ...base, level: 'LOW' })).toEqual([['ARG_NOT_IN_ENUM', 'level']]);
  });

  it('formats: url without credentials, full commit ids, lone surrogates', () => {
    const checkout = DEFAULT_CATALOGUE.get('git-checkout')!;
    const commit = 'a'.repeat(40);
    expect(issues(checkout, { repository: 'file:///etc', commit })).toEqual([['ARG_URL_INVALID', 'repository']]);
    expect(issues(checkout, { repository: 'https://u:p@git.example/x', commit })).toEqual([['ARG_URL_INVALID', 'repository']]);
    expect(issues(checkout, { repository: 'https://git.example/x', commit: 'HEAD' })).toEqual([['ARG_COMMIT_INVALID', 'commit']]);
    expect(issues(checkout, { repository: 'https://git.example/x', commit: 'a'.repeat(39) })).toEqual([['ARG_COMMIT_INVALID', 'commit']]);
    expect(issues(tool(), { ...base, pattern: 'x\ud800' })).toEqual([['ARG_INVALID_UNICODE', 'pattern']]);
  });

  it('patches: every file they touch must stay inside the workspace', () => {
    const apply = DEFAULT_CATALOGUE.get('apply-patch')!;
    const ok = 'diff --git a/src/calc.py b/src/calc.py\n--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1 +1 @@\n-a\n+b\n';
    expect(renderArgv(apply, { patch: ok })).toMatchObject({ ok: true });
    expect(renderArgv(apply, { patch: '--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+x\n' })).toMatchObject({ ok: true });
    expect(issues(apply, { patch: '--- a/../outside.py\n+++ b/../outside.py\n@@ -1 +1 @@\n-a\n+b\n' })).toEqual([['ARG_PATH_ESCAPES_WORKSPACE', 'patch']]);
    expect(issues(apply, { patch: '--- /etc/passwd\n+++ /etc/passwd\n' })).toEqual([['ARG_PATH_ESCAPES_WORKSPACE', 'patch']]);
    expect(issues(apply, { patch: 'diff --git a/x b/x\nrename from x\nrename to ../../y\n' })).toEqual([['ARG_PATH_ESCAPES_WORKSPACE', 'patch']]);
    expect(issues(apply, { patch: 'just some text\n' })).toEqual([['ARG_PATCH_INVALID', 'patch']]);
    expect(patchPaths('--- a/x.py\t2020-01-01\n+++ "b/y z.py"\n')).toEqual(['x.py', 'y z.py']);
  });
});

describe('renderArgv: properties', () => {
  const argNames = ['a', 'b', 'c', 'd'] as const;
  // Printable values, including the characters a shell or option parser would care about.
  const value = fc.string({ unit: fc.constantFrom(...Array.from('ab -=;|&$`\'"*?~/.\\ 😀')), minLength: 1, maxLength: 12 }).filter((s) => s.trim() === s);
  const literal = fc.string({ unit: fc.constantFrom(...'xyz- '.split('')), minLength: 1, maxLength: 6 });
  const templateItem = fc.oneof(fc.record({ literal }), fc.record({ arg: fc.constantFrom(...argNames) }));
  // argv[0] is always a literal: the program is the tool's, never the caller's.
  const tools = fc.tuple(fc.record({ literal }), fc.array(templateItem, { maxLength: 10 })).map(([program, rest]) => [program, ...rest]).map((argv) =>
    ToolSpec.parse({
      description: 'generated',
      effects: ['COMPUTE'],
      minWriteScope: 'none',
      executionModes: ['commit'],
      args: Object.fromEntries(argNames.map((n) => [n, { type: 'string', required: true, maxLength: 64, allowLeadingDash: true }])),
      image: `tools/x@${DIGEST}`,
      argv,
      timeoutSeconds: 1,
      network: false,
    }),
  );
  const argsArb = fc.record(Object.fromEntries(argNames.map((n) => [n, value])) as Record<(typeof argNames)[number], fc.Arbitrary<string>>);

  it('every output item is its template literal or exactly one whole argument value', () => {
    fc.assert(
      fc.property(tools, argsArb, (t, args) => {
        const r = renderArgv(t, args);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        // Same length: nothing split, nothing joined, nothing dropped.
        expect(r.argv).toHaveLength(t.argv.length);
        t.argv.forEach((item, i) => {
          if (item.literal !== undefined) expect(r.argv[i]).toBe(item.literal);
          else expect(r.argv[i]).toBe(args[item.arg as (typeof argNames)[number]]);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a value never appears spliced into a literal or another value', () => {
    fc.assert(
      fc.property(tools, argsArb, fc.constantFrom(...argNames), (t, args, marked) => {
        const marker = `\u{1F9EA}${marked}\u{1F9EA}`; // a value no literal and no other value contains
        const r = renderArgv(t, { ...args, [marked]: marker });
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        for (const item of r.argv) if (item.includes(marker)) expect(item).toBe(marker);
        expect(r.argv.filter((x) => x === marker)).toHaveLength(t.argv.filter((x) => x.arg === marked).length);
      }),
      { numRuns: 300 },
    );
  });

  it('any value with a control character or NUL is refused with the argument named, never rendered', () => {
    const controlled = fc
      .tuple(value, fc.integer({ min: 0, max: 0x1f }), value)
      .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);
    fc.assert(
      fc.property(tools, argsArb, fc.constantFrom(...argNames), controlled, (t, args, victim, bad) => {
        const r = renderArgv(t, { ...args, [victim]: bad });
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.issues).toContainEqual(expect.objectContaining({ code: 'ARG_CONTROL_CHARACTER', arg: victim }));
      }),
      { numRuns: 200 },
    );
  });

  it('without allowLeadingDash, a dash-led value before "--" is always refused', () => {
    const strict = tools.map((t) =>
      ToolSpec.parse({ ...t, args: Object.fromEntries(Object.entries(t.args).map(([n, a]) => [n, { ...a, allowLeadingDash: false }])) }),
    );
    fc.assert(
      fc.property(strict, argsArb, fc.constantFrom(...argNames), value, (t, args, victim, rest) => {
        const r = renderArgv(t, { ...args, [victim]: `-${rest}` });
        const firstEnd = t.argv.findIndex((x) => x.literal === '--');
        const before = t.argv.some((x, i) => x.arg === victim && (firstEnd === -1 || i < firstEnd));
        if (before) expect(r.ok ? [] : r.issues.map((x) => [x.code, x.arg])).toContainEqual(['ARG_OPTION_INJECTION', victim]);
      }),
      { numRuns: 300 },
    );
  });
});
