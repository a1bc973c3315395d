// The image's archives are written by dev/image/tar.ts; GNU tar (an independent reader) must read back exactly
// what was written, and the same entries must always give the same bytes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLdd } from '../../../dev/image/node-runtime.ts';
import { tarStream, type TarEntry } from '../../../dev/image/tar.ts';

const work = mkdtempSync(join(tmpdir(), 'm87-tar-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const longDir = `node_modules/${'a-rather-long-package-name/'.repeat(5)}dist`;
const onDisk = join(work, 'on-disk.bin');
writeFileSync(onDisk, Buffer.alloc(70_000, 7));
const entries: TarEntry[] = [
  { type: 'dir', path: 'app', mode: 0o755, uid: 0, gid: 0 },
  { type: 'file', path: 'app/small.txt', mode: 0o644, uid: 0, gid: 0, size: 6, content: Buffer.from('hello\n') },
  { type: 'file', path: 'app/big.bin', mode: 0o755, uid: 0, gid: 0, size: 70_000, content: { file: onDisk } },
  { type: 'dir', path: longDir, mode: 0o755, uid: 0, gid: 0 },
  { type: 'file', path: `${longDir}/index.js`, mode: 0o644, uid: 0, gid: 0, size: 2, content: Buffer.from('1\n') },
  { type: 'file', path: 'app/ünïcode.txt', mode: 0o600, uid: 65532, gid: 65532, size: 1, content: Buffer.from('x') },
  { type: 'symlink', path: 'app/link', target: `../${longDir}/index.js`, uid: 0, gid: 0 },
  { type: 'dir', path: 'tmp', mode: 0o1777, uid: 0, gid: 0 },
];

describe('tar writer', () => {
  it('writes archives GNU tar extracts to the same names, contents, modes, owners and links', async () => {
    const archive = join(work, 'a.tar');
    writeFileSync(archive, await buffer(tarStream(entries)));
    const out = join(work, 'out');
    const r = spawnSync('tar', ['-x', '--numeric-owner', '--same-owner', '-p', '-f', archive, '-C', work, '--one-top-level=out'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, 'app/small.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(join(out, 'app/big.bin')).equals(readFileSync(onDisk))).toBe(true);
    expect(readFileSync(join(out, longDir, 'index.js'), 'utf8')).toBe('1\n');
    expect(readlinkSync(join(out, 'app/link'))).toBe(`../${longDir}/index.js`);
    expect(readFileSync(join(out, 'app/link'), 'utf8')).toBe('1\n');
    expect(statSync(join(out, 'app/big.bin')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(out, 'tmp')).mode & 0o7777).toBe(0o1777);
    const unicode = statSync(join(out, 'app/ünïcode.txt'));
    expect([unicode.mode & 0o7777, unicode.uid, unicode.gid]).toEqual([0o600, 65532, 65532]);
    const listing = spawnSync('tar', ['-tv', '--numeric-owner', '--full-time', '-f', archive], { encoding: 'utf8' }).stdout;
    // Every entry carries the fixed epoch mtime, whatever the files on disk say.
    expect(listing.split('\n').filter(Boolean).every((l) => l.includes('1970-01-01 00:00:00'))).toBe(true);
  });

  it('gives the same bytes for the same entries', async () => {
    const [a, b] = await Promise.all([buffer(tarStream(entries)), buffer(tarStream(entries))]);
    expect(a.equals(b)).toBe(true);
  });

  it('refuses paths that escape the archive root and files that change size while written', async () => {
    await expect(buffer(tarStream([{ type: 'dir', path: '../x', mode: 0o755, uid: 0, gid: 0 }]))).rejects.toThrow(/invalid entry path/);
    await expect(buffer(tarStream([{ type: 'dir', path: '/abs', mode: 0o755, uid: 0, gid: 0 }]))).rejects.toThrow(/invalid entry path/);
    await expect(buffer(tarStream([{ type: 'file', path: 'f', mode: 0o644, uid: 0, gid: 0, size: 5, content: { file: onDisk } }]))).rejects.toThrow(/changed while/);
  });
});

describe('ldd output', () => {
  const output = [
    '\tlinux-vdso.so.1 (0x00007ffd)',
    '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f6a20a00000)',
    '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6a207fe000)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f6a20d31000)',
    '',
  ].join('\n');

  it('names every library and the loader, not the vDSO', () => {
    expect(parseLdd(output, 'node').map((l) => l.imagePath)).toEqual(['/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('fails on a library the host lacks and on output it cannot read', () => {
    expect(() => parseLdd(`${output}\tlibfoo.so.1 => not found\n`, 'node')).toThrow(/needs libfoo\.so\.1/);
    expect(() => parseLdd('\tstatically linked\n', 'node')).toThrow(/cannot read/);
    expect(() => parseLdd('\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n', 'node')).toThrow(/no dynamic loader/);
  });
});
