// How a Job's declared outputs are stored once its Pod is gone: one ConfigMap per Job (m87-outputs-<job>,
// in the Job's namespace, owned by the Job, labelled with it), each output under binaryData, and an index
// (outputs.json) naming each output's receipt path, size and SHA-256. The controller writes it only after
// every framed output matched the receipt; `kubectl m87 artifacts` checks every digest again against the
// Job's status.receipt before it writes a byte.

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
