// Where audit records go (docs/audit.md): always the controller's JSON log (one line, msg "Audit record",
// the record under `audit`), and optionally an append-only file, one JSON object per line, flushed to disk
// (fsync) before write() resolves. The caller deletes nothing until write() resolved.
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { AuditRecord } from '../api/audit.ts';

export class AuditLog {
  readonly #log: Logger;
  readonly #path: string | undefined;
  #file: Promise<FileHandle> | undefined;
  /** Writes are serialised: one record, one line, in order. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(log: Logger, filePath?: string) {
    this.#log = log;
    this.#path = filePath;
  }

  get filePath(): string | undefined {
    return this.#path;
  }

  /** Records it in the log and (when configured) appends and fsyncs it to the file; rejects when it could not. */
  write(record: AuditRecord): Promise<void> {
    const checked = AuditRecord.parse(record);
    const line = `${JSON.stringify(checked)}\n`;
    const run = this.#tail.then(async () => {
      if (this.#path !== undefined) {
        // 'a': O_APPEND, created if absent, never truncated.
        this.#file ??= open(this.#path, 'a', 0o600);
        let fh: FileHandle;
        try {
          fh = await this.#file;
        } catch (err) {
          this.#file = undefined;
          throw err;
        }
        await fh.appendFile(line, 'utf8');
        await fh.sync();
      }
      this.#log.info({ audit: checked }, 'Audit record');
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.#tail;
    const f = this.#file;
    this.#file = undefined;
    if (f) await (await f).close().catch(() => undefined);
  }
}
