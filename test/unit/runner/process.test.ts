import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OUTPUT_CAP_BYTES, OutputCapture } from '../../../src/runner/output.ts';
import { runProcess } from '../../../src/runner/process.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'm87-process-'));
  dirs.push(d);
  return d;
}

/** A process is gone when /proc has no entry for it or it is a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function eventually(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8' };

describe('runProcess', () => {
  it('a timeout kills the whole process group, grandchildren included', async () => {
    const d = tempDir();
    const pidFile = join(d, 'grandchild.pid');
    const output = new OutputCapture();
    // The shell starts a background grandchild, records its pid, then waits; both must die at the timeout.
    const r = await runProcess({ argv: ['sh', '-c', `sleep 300 & echo $! > ${pidFile}; echo started; wait`], cwd: d, env, timeoutMs: 300, output });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(-1);
    expect(output.bytes().toString()).toBe('started\n');
    const grandchild = Number(readFileSync(pidFile, 'utf8').trim());
    expect(grandchild).toBeGreaterThan(0);
    expect(await eventually(() => !alive(grandchild))).toBe(true);
  });

  it('a background child left behind by a process that exited normally is killed too', async () => {
    const d = tempDir();
    const pidFile = join(d, 'bg.pid');
    const r = await runProcess({
      argv: ['sh', '-c', `sleep 300 > /dev/null 2>&1 & echo $! > ${pidFile}`],
      cwd: d,
      env,
      timeoutMs: 10_000,
      output: new OutputCapture(),
    });
    expect(r).toMatchObject({ exitCode: 0, timedOut: false });
    const bg = Number(readFileSync(pidFile, 'utf8').trim());
    expect(await eventually(() => !alive(bg))).toBe(true);
  });

  it('caps the output and hashes exactly the kept bytes', async () => {
    const output = new OutputCapture();
    const r = await runProcess({
      argv: [process.execPath, '-e', "process.stdout.write('x'.repeat(200000)); process.stderr.write('tail')"],
      cwd: tempDir(),
      env,
      timeoutMs: 10_000,
      output,
    });
    expect(r.exitCode).toBe(0);
    expect(output.keptBytes).toBe(OUTPUT_CAP_BYTES);
    expect(output.totalBytes).toBe(200004);
    expect(output.truncated).toBe(true);
    expect(output.sha256()).toBe(createHash('sha256').update('x'.repeat(OUTPUT_CAP_BYTES)).digest('hex'));
  });

  it('passes exactly the given environment and no shell', async () => {
    const output = new OutputCapture();
    await runProcess({ argv: [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'], cwd: tempDir(), env, timeoutMs: 10_000, output });
    expect(JSON.parse(output.bytes().toString())).toEqual(env);
    const literal = new OutputCapture();
    await runProcess({ argv: ['echo', '$HOME;', 'id'], cwd: tempDir(), env, timeoutMs: 10_000, output: literal });
    expect(literal.bytes().toString()).toBe('$HOME; id\n');
  });

  it('reports non-zero exit codes and programs that cannot start', async () => {
    const d = tempDir();
    expect((await runProcess({ argv: ['sh', '-c', 'exit 7'], cwd: d, env, timeoutMs: 10_000, output: new OutputCapture() })).exitCode).toBe(7);
    const missing = await runProcess({ argv: [join(d, 'no-such-program')], cwd: d, env, timeoutMs: 10_000, output: new OutputCapture() });
    expect(missing.exitCode).toBe(-1);
    expect(missing.startError).toBeDefined();
    expect(existsSync(join(d, 'no-such-program'))).toBe(false);
  });
});

describe('OutputCapture', () => {
  it('keeps at most the cap across many writes', () => {
    const o = new OutputCapture(10);
    o.write('12345');
    o.write(Buffer.from('67890abc'));
    o.write('more');
    expect(o.bytes().toString()).toBe('1234567890');
    expect(o.totalBytes).toBe(17);
    expect(o.truncated).toBe(true);
  });
});
