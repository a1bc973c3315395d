import { readFileSync, statSync } from 'node:fs';

/** Size of a log file, 0 when it does not exist yet (a component that has not written anything). */
export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What a log file holds from `offset` on (the lines a restarted component wrote), '' when unreadable. */
export function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
