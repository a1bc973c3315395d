// The controller's logger batches its writes (src/cli/controller-log.ts): every line must still arrive, soon
// after it was logged while the process runs, and all of them when it exits (a normal end, an exit code set
// by a failure, an uncaught error, or process.exit). A child process logs to stdout; we read what it wrote.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = pathToFileURL(join(import.meta.dirname, '../../../src/cli/controller-log.ts')).href;

const child = (body: string) => `
const { controllerLogger } = await import(${JSON.stringify(MODULE)});
const log = controllerLogger('info');
${body}
`;

function run(body: string): { status: number | null; lines: { msg: string; i?: number; level: number }[] } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child(body)], { encoding: 'utf8' });
  return { status: r.status, lines: r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg: string; i?: number; level: number }) };
}

describe('controller logger', () => {
  it('writes every line, in order, as JSON with the component, however the process ends', () => {
    const ends = {
      normal: '',
      exitCode: 'process.exitCode = 3;',
      exit: 'process.exit(4);',
      uncaught: "setTimeout(() => { throw new Error('boom'); }, 1);",
    };
    for (const [how, end] of Object.entries(ends)) {
      const r = run(`for (let i = 0; i < 500; i++) log.info({ i }, 'line'); log.debug('hidden'); ${end}`);
      expect(r.lines.map((l) => l.i), how).toEqual(Array.from({ length: 500 }, (_, i) => i));
      expect(r.lines.every((l) => l.msg === 'line' && l.level === 30 && (l as { component?: string }).component === 'm87-controller')).toBe(true);
    }
  });

  it('a line logged while the process keeps running arrives within a moment (the buffer is flushed)', async () => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', child("log.info('first'); setInterval(() => {}, 1000);")], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        proc.stdout.setEncoding('utf8');
        proc.stdout.on('data', (chunk: string) => {
          out += chunk;
          if (out.includes('\n')) resolve(out);
        });
        proc.on('exit', () => reject(new Error(`exited before writing; got ${JSON.stringify(out)}`)));
        setTimeout(() => reject(new Error('no line within 10 s')), 10_000);
      });
      expect(JSON.parse(line.split('\n')[0]!)).toMatchObject({ msg: 'first', level: 30 });
    } finally {
      proc.kill();
    }
  });
});
