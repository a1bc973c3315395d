// The decisions controller's work-queue key: a submitter (any string), not an object key. Typed, so it
// never has to pass for "namespace/name".
import type { KeyCodec } from '../runtime/controller.ts';

export interface SubmitterKey {
  submitter: string;
}

export const SUBMITTER_KEYS: KeyCodec<SubmitterKey> = {
  encode: (key) => key.submitter,
  decode: (raw) => ({ submitter: raw }),
  logFields: (key) => ({ submitter: key.submitter }),
};
