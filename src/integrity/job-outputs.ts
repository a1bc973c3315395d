// How a Job's declared outputs are stored once its Pod is gone: one ConfigMap per Job (m87-outputs-<job>,
// in the Job's namespace, owned by the Job, labelled with it), each output under binaryData, and an index
// (outputs.json) naming each output's receipt path, size and SHA-256. The controller writes it only after
// every framed output matched the receipt; `kubectl m87 artifacts` checks every digest again against the
// Job's status.receipt before it writes a byte (verifyStoredOutputs).
import { createHash } from 'node:crypto';
import { sha256Hex } from '../hash/canonical.ts';
import { OUTPUT_ARTIFACT_PREFIX } from './framed-output.ts';

/** The index key in the ConfigMap's data. */
export const OUTPUTS_INDEX_KEY = 'outputs.json';

/** Everything a Job may store (a ConfigMap holds at most 1 MiB, base64 and index included). */
export const OUTPUTS_TOTAL_MAX_BYTES = 700 * 1024;

export interface StoredOutput {
  step: number;
  name: string;
  /** The receipt artifact path: outputs/<step>/<name>. */
  path: string;
  size: number;
  sha256: string;
  /** Its key in binaryData. */
  key: string;
}

/** binaryData key of an output (ConfigMap keys allow [-._a-zA-Z0-9]). */
export function outputDataKey(step: number, name: string): string {
  return `${step}.${name}`;
}

/** The ConfigMap name for a Job (≤ 253 characters: a long Job name is shortened with a hash, like every derived name). */
export function jobOutputsName(jobName: string): string {
  const value = `m87-outputs-${jobName}`;
  if (value.length <= 253) return value;
  const digest = sha256Hex(value).slice(0, 16);
  return `${value.slice(0, 253 - digest.length - 1).replace(/[^A-Za-z0-9]+$/, '')}-${digest}`;
}

export class StoredOutputError extends Error {
  override name = 'StoredOutputError';
}

export interface VerifiedOutput {
  step: number;
  name: string;
  path: string;
  sha256: string;
  bytes: Buffer;
}

/**
 * The outputs of a stored ConfigMap, each checked against the receipt the Job's status carries: every
 * outputs/<step>/<name> artifact of the receipt present, with exactly its SHA-256, and nothing else. Throws
 * StoredOutputError (naming the output) on any difference.
 */
export function verifyStoredOutputs(
  configMap: { data?: Record<string, string>; binaryData?: Record<string, string> },
  receiptArtifacts: readonly { path: string; sha256: string }[],
): VerifiedOutput[] {
  const raw = configMap.data?.[OUTPUTS_INDEX_KEY];
  if (raw === undefined) throw new StoredOutputError(`the outputs ConfigMap has no ${OUTPUTS_INDEX_KEY}`);
  let index: StoredOutput[];
  try {
    index = JSON.parse(raw) as StoredOutput[];
    if (!Array.isArray(index)) throw new Error('not a list');
  } catch (e) {
    throw new StoredOutputError(`${OUTPUTS_INDEX_KEY}: ${(e as Error).message}`);
  }
  const expected = new Map(receiptArtifacts.filter((a) => a.path.startsWith(OUTPUT_ARTIFACT_PREFIX)).map((a) => [a.path, a.sha256]));
  const out: VerifiedOutput[] = [];
  for (const entry of index) {
    const want = expected.get(entry.path);
    if (want === undefined) throw new StoredOutputError(`${entry.path}: stored but not in the Job's receipt`);
    if (entry.key !== outputDataKey(entry.step, entry.name) || entry.path !== `${OUTPUT_ARTIFACT_PREFIX}${entry.step}/${entry.name}`) {
      throw new StoredOutputError(`${entry.path}: index entry does not name its own key`);
    }
    const b64 = configMap.binaryData?.[entry.key];
    if (b64 === undefined) throw new StoredOutputError(`${entry.path}: no data under ${entry.key}`);
    const bytes = Buffer.from(b64, 'base64');
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== want) throw new StoredOutputError(`${entry.path}: content hashes ${got.slice(0, 12)}…, the receipt says ${want.slice(0, 12)}…`);
    expected.delete(entry.path);
    out.push({ step: entry.step, name: entry.name, path: entry.path, sha256: got, bytes });
  }
  const missing = [...expected.keys()];
  if (missing.length > 0) throw new StoredOutputError(`${missing[0]}: in the Job's receipt but not stored`);
  return out;
}
