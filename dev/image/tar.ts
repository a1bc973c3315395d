// A deterministic tar writer for image layers and the OCI archive: the caller gives the entries in the
// order they go into the archive, with their owner and mode; no timestamp, user name or host detail from
// the build machine ends up in the bytes, so the same entries always give the same archive.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export type TarEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode: number; readonly uid: number; readonly gid: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string; readonly uid: number; readonly gid: number }
  | {
      readonly type: 'file';
      readonly path: string;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
      readonly size: number;
      /** Contents: bytes in memory, or a file on disk of exactly `size` bytes (read when the entry is written). */
      readonly content: Buffer | { readonly file: string };
    };

const BLOCK = 512;
/** Every entry's mtime: the epoch, so archives do not depend on when or where they were built. */
export const ENTRY_MTIME = 0;

function octal(value: number, width: number): string {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`tar: ${value} does not fit a ${width}-byte field`);
  return digits.padStart(width - 1, '0') + '\0';
}

function header(fields: { name: string; mode: number; uid: number; gid: number; size: number; type: string; linkname?: string }): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'utf8');
  block.write(octal(fields.mode, 8), 100, 'ascii');
  block.write(octal(fields.uid, 8), 108, 'ascii');
  block.write(octal(fields.gid, 8), 116, 'ascii');
  block.write(octal(fields.size, 12), 124, 'ascii');
  block.write(octal(ENTRY_MTIME, 12), 136, 'ascii');
  block.write(fields.type, 156, 'ascii');
  if (fields.linkname !== undefined) block.write(fields.linkname, 157, 100, 'utf8');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.write(octal(0, 8), 329, 'ascii');
  block.write(octal(0, 8), 337, 'ascii');
  // The checksum is computed with its own field read as eight spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'ascii');
  return block;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** A PAX extended header carrying what does not fit ustar's fields (long or non-ASCII names). */
function paxHeader(records: Record<string, string>): Buffer {
  let body = '';
  for (const [key, value] of Object.entries(records)) {
    const payload = ` ${key}=${value}\n`;
    // The length prefix counts itself, so grow it until it is stable.
    let length = Buffer.byteLength(payload);
    while (String(length).length + Buffer.byteLength(payload) !== length) length = String(length).length + Buffer.byteLength(payload);
    body += `${length}${payload}`;
  }
  const bytes = Buffer.from(body, 'utf8');
  return Buffer.concat([header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: bytes.length, type: 'x' }), bytes, padding(bytes.length)]);
}

const fitsUstar = (value: string): boolean => Buffer.byteLength(value) <= 100 && /^[\x20-\x7e]*$/.test(value);

function entryHeader(entry: TarEntry): Buffer {
  if (entry.path === '' || entry.path.startsWith('/') || entry.path.split('/').includes('..')) throw new Error(`tar: invalid entry path ${JSON.stringify(entry.path)}`);
  const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const linkname = entry.type === 'symlink' ? entry.target : undefined;
  const pax: Record<string, string> = {};
  if (!fitsUstar(name)) pax.path = name;
  if (linkname !== undefined && !fitsUstar(linkname)) pax.linkpath = linkname;
  const main = header({
    name: pax.path !== undefined ? name.slice(0, 99).replace(/[^\x20-\x7e]/g, '_') : name,
    mode: entry.type === 'symlink' ? 0o777 : entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.type === 'file' ? entry.size : 0,
    type: entry.type === 'dir' ? '5' : entry.type === 'symlink' ? '2' : '0',
    ...(linkname !== undefined ? { linkname: pax.linkpath !== undefined ? '' : linkname } : {}),
  });
  return Object.keys(pax).length > 0 ? Buffer.concat([paxHeader(pax), main]) : main;
}

async function* archiveChunks(entries: Iterable<TarEntry>): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield entryHeader(entry);
    if (entry.type !== 'file') continue;
    if (Buffer.isBuffer(entry.content)) {
      if (entry.content.length !== entry.size) throw new Error(`tar: ${entry.path}: size ${entry.size} but ${entry.content.length} bytes given`);
      yield entry.content;
    } else {
      let written = 0;
      for await (const chunk of createReadStream(entry.content.file)) {
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      // A file that changed size since it was listed would corrupt the archive: fail instead.
      if (written !== entry.size) throw new Error(`tar: ${entry.content.file} changed while the archive was written (${entry.size} → ${written} bytes)`);
    }
    yield padding(entry.size);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** The archive of `entries`, in the given order, as a stream. */
export function tarStream(entries: Iterable<TarEntry>): Readable {
  return Readable.from(archiveChunks(entries), { objectMode: false });
}
