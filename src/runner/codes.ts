/**
 * Every reason the runner can give for not finishing a job successfully. The codes are stable: they appear
 * in receipts, Job conditions, Events and metrics, so a code is never renamed or reused for something else.
 * `REFUSAL` codes mean a check failed (status Refused); `FAILURE` codes mean a step ran and did not succeed
 * (status Failed).
 */
export const REFUSAL_CODES = [
  // Inputs the Pod gives the runner.
  'CONFIG_MISSING',
  'ANNOTATIONS_UNREADABLE',
  'ANNOTATIONS_MALFORMED',
  'ANNOTATION_MISSING',
  'PUBLIC_KEY_UNREADABLE',
  'PUBLIC_KEY_INVALID',
  // Envelope verification, in the order it runs.
  'ENVELOPE_MALFORMED',
  'ENVELOPE_SCHEMA_INVALID',
  'DEH_MISMATCH',
  'KEY_ID_MISMATCH',
  'SIGNATURE_INVALID',
  // Retired, never to be reused: JOB_NAME_MISMATCH and JOB_BINDING_INVALID (the Pod no longer carries a
  // second, job-binding signature: docs/security.md, "Job identity"); MANIFEST_HASH_MISMATCH (there is no
  // built-in tool manifest: each envelope step binds its Tool's hash and image instead).
  'EFFECT_SCHEMA_VERSION_MISMATCH',
  // Isolation self-checks.
  'ISOLATION_SA_TOKEN_MOUNTED',
  'ISOLATION_RUNNING_AS_ROOT',
  'ISOLATION_ROOT_WRITABLE',
  'ISOLATION_API_SERVER_UNKNOWN',
  'ISOLATION_API_SERVER_REACHABLE',
  'ISOLATION_CHECK_FAILED',
  // Job-level gates.
  'REVERSIBILITY_CLASS_MISSING',
  'ROLLBACK_PROOF_MISSING',
  'HUMAN_APPROVAL_MISSING',
  'WORKSPACE_UNAVAILABLE',
  // Step gates (checked in the step's container before its tool runs). Retired: TOOL_NOT_IN_MANIFEST and
  // TOOL_NOT_IMPLEMENTED (the runner's built-in tools; a step's tool is now the bound Tool definition).
  'TOOL_ARGS_INVALID',
  'TOOL_EFFECT_NOT_ALLOWED',
  'WRITE_SCOPE_EXCEEDED',
  'EXECUTION_MODE_UNSUPPORTED',
  'PATH_INVALID',
  'PATH_ESCAPE',
  'PATH_SYMLINK_ESCAPE',
  'PATH_RESERVED',
  // Budget (preemptive: the step or request that would exceed it never starts).
  'BUDGET_STEPS_EXCEEDED',
  'BUDGET_TOOL_CALLS_EXCEEDED',
  'BUDGET_RUNTIME_EXCEEDED',
  'BUDGET_EXTERNAL_IO_EXCEEDED',
  // Egress gate.
  'EGRESS_GATE_UNAVAILABLE',
  'EGRESS_HOST_NOT_ALLOWED',
  'EGRESS_ADDRESS_FORBIDDEN',
  'EGRESS_PROXY_AUTH_REQUIRED',
  'EGRESS_BAD_REQUEST',
  'TOOL_UNBOUND',
  'TOOL_CHANGED',
  'TOOL_IMAGE_MISMATCH',
  'STEP_RESULT_MISSING',
] as const;

export const FAILURE_CODES = [
  'STEP_FAILED',
  'STEP_TIMEOUT',
  'TOOL_ERROR',
  'EGRESS_UPSTREAM_FAILED',
  'INTERNAL_ERROR',
  'GIT_FETCH_FAILED',
  'GIT_COMMIT_NOT_FOUND',
  'OUTPUT_MISSING',
  'OUTPUT_TOO_LARGE',
  'OUTPUT_DIGEST_MISMATCH',
] as const;

export type RefusalCode = (typeof REFUSAL_CODES)[number];
export type FailureCode = (typeof FAILURE_CODES)[number];
export type ReasonCode = RefusalCode | FailureCode;

export const REASON_CODES: readonly ReasonCode[] = [...REFUSAL_CODES, ...FAILURE_CODES];

const refusals: ReadonlySet<string> = new Set(REFUSAL_CODES);

export function isRefusalCode(code: ReasonCode): code is RefusalCode {
  return refusals.has(code);
}

/** A check failed or a step did not succeed; `message` names the field or step. */
export class RunnerStop extends Error {
  override name = 'RunnerStop';
  readonly code: ReasonCode;
  constructor(code: ReasonCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function stop(code: ReasonCode, message: string): never {
  throw new RunnerStop(code, message);
}
