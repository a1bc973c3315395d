import { describe, expect, it } from 'vitest';
import type { ArtifactInput } from './fixtures.ts';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { compileTripwires, exceedsBytes, scanCode } from '../../../src/governance/tripwires.ts';
import { verifyChallenge } from '../../../src/governance/challenge.ts';
import { baseSpec, findings, input, policyWith, SECRET } from './fixtures.ts';

const T = compileTripwires(DEFAULT_POLICY_SPEC.tripwires);
const flags = (code: string) => {
  const r = scanCode(code, T);
  return r.oversize ? ['(oversize)'] : r.flags;
};

describe('tripwire patterns (seed §4)', () => {
  it.each([
    ['import socket', 'import_socket'],
    ['import  requests', 'import_requests'],
    ['import urllib.request', 'import_urllib'],
    ['from urllib import parse', 'from_urllib'],
    ['import httpx', 'import_httpx'],
    ['import aiohttp', 'import_aiohttp'],
    ['subprocess.run(["ls"])', 'subprocess'],
    ['key = os.environ["TOKEN"]', 'os_environ'],
    ['os.system("id")', 'os_system'],
    ['os.popen("id")', 'os_popen'],
    ['eval (payload)', 'eval'],
    ['exec(code)', 'exec'],
    ['m = __import__("os")', 'dunder_import'],
    ['open( "/etc/shadow")', 'sensitive_file_access'],
    ["open('/proc/1/environ')", 'sensitive_file_access'],
  ])('%s → %s', (code, flag) => {
    expect(flags(code)).toEqual([flag]);
  });

  it('reports every matching pattern, in policy order', () => {
    expect(flags('import socket\nimport subprocess\neval(x)')).toEqual(['import_socket', 'subprocess', 'eval']);
  });

  it('uses word boundaries and is case-sensitive, like the seed', () => {
    expect(flags('important sockets; evaluate(x); Import Socket; reexec(x)')).toEqual([]);
  });

  it('combines patterns for the clean fast path without changing results, also with backreferences', () => {
    const withBackref = compileTripwires({ ...DEFAULT_POLICY_SPEC.tripwires, patterns: [{ name: 'twice', pattern: '(ab)\\1' }, { name: 'sock', pattern: 'socket' }] });
    expect(withBackref.any).toBeUndefined();
    expect(scanCode('xxababyy', withBackref)).toEqual({ oversize: false, flags: ['twice'] });
    expect(T.any).toBeInstanceOf(RegExp);
  });

  it('measures size in UTF-8 bytes', () => {
    expect(exceedsBytes('a'.repeat(10), 10)).toBe(false);
    expect(exceedsBytes('a'.repeat(11), 10)).toBe(true);
    expect(exceedsBytes('é'.repeat(5), 10)).toBe(false);
    expect(exceedsBytes('é'.repeat(6), 10)).toBe(true);
    expect(exceedsBytes('😀😀', 8)).toBe(false);
    expect(exceedsBytes('😀😀a', 8)).toBe(true);
  });
});

describe('tripwire rule', () => {
  const code = (artifact: ArtifactInput) => evaluate(input({ spec: baseSpec({ artifacts: [artifact] }) }));

  it('escalates flagged code with a challenge on the flag name', () => {
    const i = input({ spec: baseSpec({ artifacts: [{ type: 'python_code', path: 'x.py', content: 'import socket\n' }] }) });
    const r = evaluate(i);
    expect(r.outcome).toBe('REQUIRE_HUMAN');
    expect(findings(r)).toEqual(['TRIPWIRE']);
    expect(r.reasons[0]?.message).toContain('import_socket');
    expect(r.challenge?.prompt).toContain('import_socket');
    expect(verifyChallenge(SECRET, i.proposal.hash, r.challenge?.id ?? '', 'import_socket')).toBe(true);
  });

  it('scans code, python_code and shell_script, and nothing else', () => {
    for (const type of ['code', 'python_code', 'shell_script'] as const) expect(code({ type, content: 'os.system("x")' }).outcome, type).toBe('REQUIRE_HUMAN');
    for (const type of ['diff', 'document', 'file'] as const) expect(code({ type, content: 'os.system("x")' }).outcome, type).toBe('ALLOW');
  });

  it('denies oversize code without scanning it', () => {
    const small = policyWith((p) => (p.tripwires.maxCodeBytes = 16));
    const r = evaluate(input({ policy: small, spec: baseSpec({ artifacts: [{ type: 'code', content: 'print("hello, world")' }] }) }));
    expect(r.outcome).toBe('DENY');
    expect(findings(r)).toEqual(['CODE_TOO_LARGE']);
  });

  it('scans every code artifact and reports each', () => {
    const r = evaluate(input({ spec: baseSpec({ artifacts: [{ type: 'code', content: 'eval(x)' }, { type: 'shell_script', content: 'ok' }, { type: 'code', content: 'exec(y)' }] }) }));
    expect(findings(r)).toEqual(['TRIPWIRE', 'TRIPWIRE']);
  });
});
