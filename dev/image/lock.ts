// One image build at a time per cache directory: builds share the layout's index.json and blobs, and an
// import must read the image its own build wrote.
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** Takes the lock, or returns what its file says about the holder (its pid; '' while being written; null if it just went away). */
function tryAcquire(lock: string): true | string | null {
  try {
    const fd = openSync(lock, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  }
  try {
    return readFileSync(lock, 'utf8').trim();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

export async function withCacheLock<T>(dir: string, progress: (line: string) => void, work: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const holder = tryAcquire(lock);
    if (holder === true) break;
    if (holder === null) continue;
    const pid = Number.parseInt(holder, 10);
    // An empty lock file is one being written right now, unless it is old.
    const stale = holder === '' ? Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 10_000 : !Number.isInteger(pid) || pid <= 0 || !alive(pid);
    if (stale) {
      // Left behind by a build that died: take it over.
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another image build (pid ${holder || '?'}) has held ${lock} for ${Math.round(timeoutMs / 60_000)} min`);
    if (!told) progress(`waiting for another image build (pid ${holder || '?'}) to finish…`);
    told = true;
    await sleep(500);
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}
