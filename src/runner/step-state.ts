import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReasonCode } from './codes.ts';
import type { ApiServerCheck } from './isolation.ts';
import type { EgressRecord } from './egress-gate.ts';

/**
 * What one container of a step Pod leaves for the next: the job's start time (so the runtime budget spans
 * every container), one record per step (exit code, output hash, egress count, declared outputs' digests)
 * and the declared outputs' bytes. It lives in an emptyDir (`M87_STATE_DIR`) that only the runner writes;
 * the final container composes the receipt from it, re-hashing every output it reports.
 */

export interface RunRecord {
  /** Wall-clock start of the job (epoch milliseconds): when the runner was delivered. */
  startedAtMs: number;
}

export interface OutputRecord {
  name: string;
  size: number;
  sha256: string;
}

export type StepStatus = 'Succeeded' | 'Failed' | 'Refused' | 'Skipped';

export interface StepRecord {
  index: number;
  tool: string;
  status: StepStatus;
  reasonCode: ReasonCode | '';
  message: string;
  /** -1 when the tool never ran. */
  exitCode: number;
  /** SHA-256 of the captured (capped) stdout+stderr of the tool. */
  outputHash: string;
  /** Requests the egress gate let through during this step (checkout included). */
  externalIO: number;
  /** Whether the tool itself ran (counts as a step and a tool call). */
  ran: boolean;
  durationMs: number;
  outputs: OutputRecord[];
  /** The commit a git workspace source was checked out at. */
  commit?: string;
  /** This container's API-server self-check (absent when it did not complete). */
  apiServer?: ApiServerCheck;
  /** What the step's egress gate admitted and refused (at most MAX_EGRESS_RECORDS; absent when it had no gate). */
  egress?: { allowed: number; refused: number; records: EgressRecord[] };
}

/** Egress records kept per step (the counts are always complete). */
export const MAX_EGRESS_RECORDS = 64;

const RUN_FILE = 'run.json';
const stepFile = (i: number): string => `step-${String(i).padStart(2, '0')}.json`;

export class StepState {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  private write(name: string, data: string | Buffer): void {
    const target = join(this.dir, name);
    mkdirSync(join(target, '..'), { recursive: true });
    const tmp = `${target}.tmp`;
    writeFileSync(tmp, data, { mode: 0o644 });
    renameSync(tmp, target); // a reader sees the whole record or none
  }

  private read<T>(name: string): T | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir, name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return JSON.parse(text) as T;
  }

  writeRun(r: RunRecord): void {
    this.write(RUN_FILE, JSON.stringify(r));
  }

  readRun(): RunRecord | undefined {
    return this.read<RunRecord>(RUN_FILE);
  }

  writeStep(r: StepRecord): void {
    this.write(stepFile(r.index), JSON.stringify(r));
  }

  readStep(i: number): StepRecord | undefined {
    return this.read<StepRecord>(stepFile(i));
  }

  outputPath(step: number, name: string): string {
    return join(this.dir, 'outputs', String(step), name);
  }

  writeOutput(step: number, name: string, bytes: Buffer): void {
    this.write(join('outputs', String(step), name), bytes);
  }

  readOutput(step: number, name: string): Buffer {
    return readFileSync(this.outputPath(step, name));
  }
}
