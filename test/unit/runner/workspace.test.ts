import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerStop } from '../../../src/runner/codes.ts';
import { Workspace } from '../../../src/runner/workspace.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function setup(): { dir: string; ws: Workspace; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'm87-ws-'));
  dirs.push(dir);
  const root = join(dir, 'workspace');
  mkdirSync(root);
  return { dir, ws: new Workspace(root), root };
}
function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof RunnerStop ? e.code : String(e);
  }
  return undefined;
}

describe('Workspace path re-validation', () => {
  it('resolves relative paths, /workspace/… and the configured path to the same place', () => {
    const { ws, root } = setup();
    expect(ws.resolve('a/b.txt', 'p')).toEqual({ relative: 'a/b.txt', absolute: join(ws.root, 'a/b.txt') });
    expect(ws.resolve('/workspace/a/b.txt', 'p').relative).toBe('a/b.txt');
    expect(ws.resolve(join(root, 'a/./b.txt'), 'p').relative).toBe('a/b.txt');
    expect(ws.resolve('a/../c.txt', 'p').relative).toBe('c.txt');
  });

  it.each([
    ['../x', 'PATH_ESCAPE'],
    ['a/../../x', 'PATH_ESCAPE'],
    ['/etc/passwd', 'PATH_ESCAPE'],
    ['/workspace/../etc/passwd', 'PATH_ESCAPE'],
    ['/workspacex/a', 'PATH_ESCAPE'],
    ['', 'PATH_INVALID'],
    ['.', 'PATH_INVALID'],
    ['/workspace', 'PATH_INVALID'],
    ['a\u0000b', 'PATH_INVALID'],
    ['a\nb', 'PATH_INVALID'],
    ['x'.repeat(513), 'PATH_INVALID'],
    ['.m87/steps/01-echo.out', 'PATH_RESERVED'],
  ])('%j → %s', (p, c) => {
    const { ws } = setup();
    expect(code(() => ws.resolve(p, 'p'))).toBe(c);
  });

  it('refuses symlink escapes in any component, dangling symlinks and a symlink as the target', () => {
    const { dir, ws, root } = setup();
    mkdirSync(join(dir, 'outside'));
    symlinkSync(join(dir, 'outside'), join(root, 'out'));
    symlinkSync('/etc', join(root, 'etc'));
    symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
    mkdirSync(join(root, 'in'));
    symlinkSync('../out', join(root, 'in', 'up'));
    writeFileSync(join(root, 'file'), 'x');
    expect(code(() => ws.resolve('out/x', 'p'))).toBe('PATH_SYMLINK_ESCAPE');
    expect(code(() => ws.resolve('etc/passwd', 'p'))).toBe('PATH_SYMLINK_ESCAPE');
    expect(code(() => ws.resolve('in/up/x', 'p'))).toBe('PATH_SYMLINK_ESCAPE');
    expect(code(() => ws.resolve('dangling/x', 'p'))).toBe('PATH_SYMLINK_ESCAPE');
    expect(code(() => ws.resolve('out', 'p'))).toBe('PATH_SYMLINK_ESCAPE');
    expect(code(() => ws.resolve('file/x', 'p'))).toBe('PATH_INVALID');
  });

  it('a missing workspace → WORKSPACE_UNAVAILABLE', () => {
    const { dir } = setup();
    expect(code(() => new Workspace(join(dir, 'missing')))).toBe('WORKSPACE_UNAVAILABLE');
    writeFileSync(join(dir, 'plain'), 'x');
    expect(code(() => new Workspace(join(dir, 'plain')))).toBe('WORKSPACE_UNAVAILABLE');
  });
});
