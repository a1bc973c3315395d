// Work-queue keys that are not object keys, typed so they never have to pass for "namespace/name": the
// decisions controller's submitter (any string) and the retention controller's namespace.
import type { KeyCodec } from '../runtime/controller.ts';

export interface SubmitterKey {
  submitter: string;
}

export const SUBMITTER_KEYS: KeyCodec<SubmitterKey> = {
  encode: (key) => key.submitter,
  decode: (raw) => ({ submitter: raw }),
  logFields: (key) => ({ submitter: key.submitter }),
};

export interface NamespaceKey {
  namespace: string;
}

export const NAMESPACE_KEYS: KeyCodec<NamespaceKey> = {
  encode: (key) => key.namespace,
  decode: (raw) => ({ namespace: raw }),
  logFields: (key) => ({ namespace: key.namespace }),
};
