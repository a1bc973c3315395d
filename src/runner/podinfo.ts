import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { ANNOTATIONS, PODINFO_FILES } from '../api/group.ts';
import { RunnerStop, stop } from './codes.ts';

/**
 * Reads the job Pod's downward-API volume: one file per annotation (PODINFO_FILES). For a single-key fieldRef
 * (`metadata.annotations['<key>']`) the kubelet writes the annotation's value as raw bytes — no quoting, no
 * newline — and an absent annotation as an empty file, so there is nothing to parse: each file is the value.
 *
 * The kubelet publishes a volume atomically: the files live in a timestamped directory that the `..data`
 * symlink points to, and every update swaps that link. Resolving `..data` once and reading every file from
 * the directory it names gives one consistent snapshot even if the Pod's annotations were to change mid-read.
 */

/** The API server's limit for all annotations of one object together; a larger file is not the kubelet's. */
export const MAX_ANNOTATION_BYTES = 256 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The directory holding the current snapshot: the target of `..data` when the volume has one. */
function snapshotDir(dir: string): string {
  try {
    return realpathSync(posix.join(dir, '..data'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return dir;
    stop('ANNOTATIONS_UNREADABLE', `podinfo ${dir}/..data: ${(e as Error).message}`);
  }
}

function readCapped(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    stop('ANNOTATIONS_UNREADABLE', `podinfo file ${path}: ${(e as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_ANNOTATION_BYTES) stop('ANNOTATIONS_MALFORMED', `podinfo file ${path}: ${size} bytes, more than an annotation can hold (${MAX_ANNOTATION_BYTES})`);
    // One byte more than the file claims, so a file that grows while it is read is noticed.
    const buf = Buffer.alloc(size + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, n);
    if (n > size) stop('ANNOTATIONS_MALFORMED', `podinfo file ${path} changed while it was read`);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof RunnerStop) throw e;
    stop('ANNOTATIONS_UNREADABLE', `podinfo file ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Annotation key → value, for every annotation the runner reads; an empty value means the annotation is absent. */
export function readPodinfo(dir: string): Map<string, string> {
  const base = snapshotDir(dir);
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(PODINFO_FILES) as [keyof typeof PODINFO_FILES, string][]) {
    const path = posix.join(base, file);
    const bytes = readCapped(path);
    let value: string;
    try {
      value = utf8.decode(bytes);
    } catch {
      stop('ANNOTATIONS_MALFORMED', `podinfo file ${path}: not valid UTF-8`);
    }
    out.set(ANNOTATIONS[name], value);
  }
  return out;
}
