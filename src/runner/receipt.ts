import { Receipt, RECEIPT_MAX_BYTES } from '../api/receipt.ts';
import type { BudgetUsage } from './budget.ts';
import type { ReasonCode } from './codes.ts';
import type { ApiServerCheck } from './isolation.ts';

/** A reported output: its path in the receipt (outputs/<step>/<name>) and the SHA-256 of its bytes. */
export interface ArtifactDigest {
  path: string;
  sha256: string;
}

export interface ReceiptStep {
  tool: string;
  exitCode: number;
  outputHash: string;
}

export interface ReceiptInput {
  status: Receipt['status'];
  reasonCode: ReasonCode | '';
  jobUID: string;
  deh: { claimed: string; recomputed: string; verified: boolean };
  steps: readonly ReceiptStep[];
  usage: BudgetUsage;
  artifacts: readonly ArtifactDigest[];
  /** The API-server self-check of every container that completed it (empty: the receipt has no `isolation`). */
  apiServerChecks?: readonly ApiServerCheck[];
}

type ReceiptIsolation = NonNullable<Receipt['isolation']>;

/**
 * One summary of the Pod's API-server checks: the weakest result (no-route, addressing, is weaker evidence
 * than blocked by policy) with its cause, and the attempts and wait of the check that waited longest.
 */
export function summariseApiServerChecks(checks: readonly ApiServerCheck[]): ReceiptIsolation | undefined {
  if (checks.length === 0) return undefined;
  const weakest = checks.find((c) => c.result === 'no-route') ?? checks[0]!;
  const longest = checks.reduce((a, b) => (b.waitedMs > a.waitedMs ? b : a));
  return {
    apiServer: {
      result: weakest.result,
      cause: weakest.cause.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32),
      checks: Math.min(checks.length, 64),
      attempts: Math.min(Math.max(1, Math.floor(longest.attempts)), 1000),
      waitedMs: Math.min(Math.max(0, Math.floor(longest.waitedMs)), 600_000),
    },
  };
}

/**
 * Present only when detail had to be left out to stay within RECEIPT_MAX_BYTES (or the schema's list
 * limits): how many steps and artifacts are missing from the end of their lists.
 */
export interface ReceiptTruncation {
  stepsOmitted: number;
  artifactsOmitted: number;
}

export type RunnerReceipt = Receipt & { truncated?: ReceiptTruncation };

const MAX_STEPS = 32;
const MAX_ARTIFACTS = 16;
const HEX64 = /^[0-9a-f]{64}$/;

/** Keeps a string within the schema's length and free of anything that is not printable ASCII. */
function clip(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

function bytes(r: RunnerReceipt): number {
  return Buffer.byteLength(JSON.stringify(r), 'utf8');
}

/**
 * Builds the receipt and its JSON, never larger than RECEIPT_MAX_BYTES: when the whole receipt does not fit,
 * steps are dropped from the end first, then artifacts, and `truncated` says how many. The result always
 * passes the Receipt schema.
 */
export function buildReceipt(input: ReceiptInput): { receipt: RunnerReceipt; json: string } {
  const steps = input.steps.map((s) => ({
    tool: clip(s.tool, 63),
    exitCode: Number.isInteger(s.exitCode) ? Math.min(Math.max(s.exitCode, -1), 255) : -1,
    outputHash: HEX64.test(s.outputHash) ? s.outputHash : '',
  }));
  const artifacts = input.artifacts.filter((a) => HEX64.test(a.sha256) && a.path.length > 0 && a.path.length <= 512).map((a) => ({ path: a.path, sha256: a.sha256 }));
  const base: RunnerReceipt = {
    v: 1,
    status: input.status,
    reasonCode: input.reasonCode,
    jobUID: clip(input.jobUID, 64),
    deh: { claimed: clip(input.deh.claimed, 64), recomputed: clip(input.deh.recomputed, 64), verified: input.deh.verified },
    steps: [],
    usage: {
      steps: Math.max(0, Math.floor(input.usage.steps)),
      toolCalls: Math.max(0, Math.floor(input.usage.toolCalls)),
      runtimeMs: Math.max(0, Math.floor(input.usage.runtimeMs)),
      externalIO: Math.max(0, Math.floor(input.usage.externalIO)),
    },
    artifacts: [],
  };
  const isolation = summariseApiServerChecks(input.apiServerChecks ?? []);
  if (isolation !== undefined) base.isolation = isolation;

  let keepSteps = Math.min(steps.length, MAX_STEPS);
  let keepArtifacts = Math.min(artifacts.length, MAX_ARTIFACTS);
  const make = (): RunnerReceipt => {
    const r: RunnerReceipt = { ...base, steps: steps.slice(0, keepSteps), artifacts: artifacts.slice(0, keepArtifacts) };
    if (keepSteps < steps.length || keepArtifacts < artifacts.length) {
      r.truncated = { stepsOmitted: steps.length - keepSteps, artifactsOmitted: artifacts.length - keepArtifacts };
    }
    return r;
  };
  let receipt = make();
  while (bytes(receipt) > RECEIPT_MAX_BYTES && keepSteps > 0) {
    keepSteps--;
    receipt = make();
  }
  while (bytes(receipt) > RECEIPT_MAX_BYTES && keepArtifacts > 0) {
    keepArtifacts--;
    receipt = make();
  }
  // Cannot happen with the clipped fields above; kept so that no input can ever produce an oversize receipt.
  if (bytes(receipt) > RECEIPT_MAX_BYTES || !Receipt.safeParse(receipt).success) {
    receipt = {
      ...base,
      status: input.status === 'Succeeded' ? 'Failed' : input.status,
      reasonCode: input.status === 'Succeeded' ? 'INTERNAL_ERROR' : input.reasonCode,
      truncated: { stepsOmitted: steps.length, artifactsOmitted: artifacts.length },
    };
  }
  return { receipt, json: JSON.stringify(receipt) };
}
