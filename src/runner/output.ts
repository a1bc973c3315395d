import { createHash } from 'node:crypto';

/** Per-step output cap: what is kept, hashed and saved. Anything beyond is counted and discarded. */
export const OUTPUT_CAP_BYTES = 64 * 1024;

/**
 * Captures a step's output up to a cap. The hash covers exactly the kept bytes, so a saved output artifact
 * and the receipt's outputHash can be checked against each other.
 */
export class OutputCapture {
  readonly cap: number;
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;

  constructor(cap: number = OUTPUT_CAP_BYTES) {
    this.cap = cap;
  }

  write(data: string | Uint8Array): void {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.total += buf.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const part = buf.length <= room ? Buffer.from(buf) : Buffer.from(buf.subarray(0, room));
    this.chunks.push(part);
    this.kept += part.length;
  }

  /** True once more bytes arrived than were kept. */
  get truncated(): boolean {
    return this.total > this.kept;
  }

  get totalBytes(): number {
    return this.total;
  }

  get keptBytes(): number {
    return this.kept;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }

  sha256(): string {
    return createHash('sha256').update(this.bytes()).digest('hex');
  }
}
