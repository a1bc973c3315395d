// Reading the termination message the way kubelet does: at most the last 4096 bytes of the file; with
// FallbackToLogsOnError and an empty message after a failure, the tail of the logs (80 lines, 2048 bytes).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
const FALLBACK_LOG_LINES = 80;
const FALLBACK_LOG_BYTES = 2048;

/** Last `max` bytes of a regular file; '' when absent. Never follows a symlink the Pod may have planted. */
export function readTail(file: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return '';
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return '';
    const length = Math.min(st.size, max);
    const buf = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buf, read, length - read, st.size - length + read);
      if (n === 0) break;
      read += n;
    }
    return buf.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function terminationMessage(opts: {
  file: string;
  policy: string | undefined;
  exitCode: number;
  logs: readonly string[];
}): string {
  const message = readTail(opts.file, MAX_TERMINATION_MESSAGE_BYTES);
  if (message !== '' || opts.policy !== 'FallbackToLogsOnError' || opts.exitCode === 0) return message;
  for (const log of opts.logs) {
    const tail = readTail(log, FALLBACK_LOG_BYTES * 4);
    if (tail.trim() === '') continue;
    const lines = tail.split('\n').slice(-FALLBACK_LOG_LINES - 1).join('\n');
    return Buffer.from(lines, 'utf8').subarray(-FALLBACK_LOG_BYTES).toString('utf8');
  }
  return '';
}
