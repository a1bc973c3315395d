import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import { checkPath, compileFsRules, normalisePath } from '../../../src/governance/paths.ts';
import { baseSpec, input } from './fixtures.ts';

const RULES = compileFsRules(DEFAULT_POLICY_SPEC.virtualFilesystem);
const verdict = (p: string) => checkPath(p, RULES)?.code ?? 'ALLOWED';

describe('normalisePath', () => {
  it.each([
    ['/a/b/c', '/a/b/c'],
    ['//sys/kernel', '/sys/kernel'],
    ['///sys', '/sys'],
    ['/dev/./shm', '/dev/shm'],
    ['/workspace/../dev/shm', '/dev/shm'],
    ['/a/b/../../../../etc', '/etc'],
    ['/sys/', '/sys'],
    ['/sys/.', '/sys'],
    ['/sys/kernel/..', '/sys'],
    ['notes.txt', '/workspace/notes.txt'],
    ['./out/../report.md', '/workspace/report.md'],
    ['../../sys/class', '/sys/class'],
    ['.', '/workspace'],
    ['/', '/'],
    ['/..', '/'],
  ])('%s → %s', (raw, normal) => {
    expect(normalisePath(raw)).toBe(normal);
  });
});

describe('virtual-filesystem rules after normalisation', () => {
  it.each([
    ['/sys/kernel/notes', 'VIRTUAL_FS_DENIED'],
    ['//sys/kernel/notes', 'VIRTUAL_FS_DENIED'],
    ['/dev/./shm/x', 'VIRTUAL_FS_DENIED'],
    ['/workspace/../dev/shm', 'VIRTUAL_FS_DENIED'],
    ['/workspace/../../run/secrets/kubernetes.io/token', 'VIRTUAL_FS_DENIED'],
    ['../../dev/pts/0', 'VIRTUAL_FS_DENIED'],
    ['/dev/mqueue/', 'VIRTUAL_FS_DENIED'],
    ['file:///sys/firmware', 'VIRTUAL_FS_DENIED'],
    ['FILE://localhost/run/docker.sock', 'VIRTUAL_FS_DENIED'],
    ['/sys', 'VIRTUAL_FS_DENIED'],
    ['/proc', 'VIRTUAL_FS_NOT_IN_ALLOWLIST'],
    ['/proc/1/environ', 'VIRTUAL_FS_NOT_IN_ALLOWLIST'],
    ['/proc/self/../1/environ', 'VIRTUAL_FS_NOT_IN_ALLOWLIST'],
    ['/proc/self/root/sys', 'VIRTUAL_FS_NOT_IN_ALLOWLIST'],
    ['/proc/self/status/', 'ALLOWED'],
    ['/proc//cpuinfo', 'ALLOWED'],
    ['/proc/self/status', 'ALLOWED'],
    ['/system/notes', 'ALLOWED'],
    ['/sysfs-backup', 'ALLOWED'],
    ['/runner/out', 'ALLOWED'],
    ['/workspace/src/app.ts', 'ALLOWED'],
    ['src/app.ts', 'ALLOWED'],
    ['https://example.com/sys', 'ALLOWED'],
    ['/tmp/a\nb', 'PATH_INVALID'],
  ])('%s → %s', (raw, code) => {
    expect(verdict(raw)).toBe(code);
  });

  it('a rule applies when any rule covering the path denies it', () => {
    const rules = compileFsRules([
      { mountPoint: '/proc', policy: 'ALLOWLIST', reason: 'procfs', allowedPaths: ['/proc/self/status'] },
      { mountPoint: '/proc/self', policy: 'DENY', reason: 'no self' },
    ]);
    expect(checkPath('/proc/self/status', rules)?.code).toBe('VIRTUAL_FS_DENIED');
  });

  it('normalises the policy mount points too', () => {
    const rules = compileFsRules([{ mountPoint: '/data//private/', policy: 'DENY', reason: 'x' }]);
    expect(checkPath('/data/private/key', rules)?.code).toBe('VIRTUAL_FS_DENIED');
  });

  it('catches every trick in the engine, in artifacts and step arguments alike', () => {
    for (const trick of ['//sys/x', '/dev/./shm', '/workspace/../dev/shm', '../../sys/x']) {
      const viaArtifact = evaluate(input({ spec: baseSpec({ artifacts: [{ type: 'file', target: trick }] }) }));
      const viaStep = evaluate(input({ spec: baseSpec({ steps: [{ tool: 'write-file', args: { path: trick, content: 'x' } }] }) }));
      expect(viaArtifact.outcome, trick).toBe('DENY');
      expect(viaStep.outcome, trick).toBe('DENY');
    }
  });
});
