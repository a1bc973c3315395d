/** The typed M87 client: one way for the CLI, the MCP server, the console and the tests to talk to the API. */
export { approvalName, approvalObject, recordVerdict, reviewForApproval, type ApprovalReview, type Verdict } from './approvals.ts';
export { M87Client, MAX_OBJECT_BYTES, type Identity, type ListOptions, type ListResult, type ObjectRef, type WatchEvent, type WatchOptions } from './client.ts';
export { loadConnection, type Connection, type ConnectionOptions } from './connection.ts';
export { describeIssues, fieldPath, fromApiError, isClientError, M87ClientError, type ClientErrorReason } from './errors.ts';
export { explainRecorded, replayDecision, type Comparison, type ExplainedReason, type RecordedExplanation, type Replay } from './explain.ts';
export { DECIDED_PHASES, FINAL_PHASES, proposalState, readProposalState, waitForProposal, type ApprovalStateName, type ProposalState, type WaitOptions } from './proposal-state.ts';
export { assertSubmitter, checkDraft, defaultProposalName, MAX_PROPOSAL_BYTES, ProposalDraft, submitProposal, type SubmitOptions } from './proposals.ts';
export { CLIENT_KINDS, type ClientKindName, type ClusterKind, type NamespacedKind, type ObjectOf } from './resources.ts';
export { fetchJobOutputs, type JobOutputs } from './artifacts.ts';
export { catalogueOfListed, listedTools, listTools, type ListedTool } from './tools.ts';
