/** Public API of the in-pod runner (`m87 runner`). */
export { defaultRunnerEnvironment, childEnvironment, EXIT_CODES, DEFAULT_TERMINATION_LOG } from './runner.ts';
export type { RunnerEnvironment } from './runner.ts';
export { REASON_CODES, REFUSAL_CODES, FAILURE_CODES, isRefusalCode, RunnerStop } from './codes.ts';
export type { ReasonCode, RefusalCode, FailureCode } from './codes.ts';
export { readPodinfo, MAX_ANNOTATION_BYTES } from './podinfo.ts';
export { strictDeep } from './strict-schema.ts';
export { verifyJob, loadPublicKey } from './verify.ts';
export type { VerifiedJob, DehEvidence } from './verify.ts';
export { checkIsolation, DEFAULT_SERVICE_ACCOUNT_TOKEN_PATH, DEFAULT_API_CONNECT_TIMEOUT_MS } from './isolation.ts';
export type { IsolationEnvironment } from './isolation.ts';
export { EgressGate, GATE_HEADER, isForbiddenAddress } from './egress-gate.ts';
export type { EgressGateOptions, EgressLease, EgressRecord } from './egress-gate.ts';
export { buildReceipt } from './receipt.ts';
export type { RunnerReceipt, ReceiptTruncation } from './receipt.ts';
export { OUTPUT_CAP_BYTES } from './output.ts';
