import type { ExecutionMode } from '../../api/envelope.ts';
import type { ToolSpec } from '../../tool-catalogue/manifest.ts';
import type { ReasonCode } from '../codes.ts';
import type { EgressLease } from '../egress-gate.ts';
import type { OutputCapture } from '../output.ts';
import type { Workspace } from '../workspace.ts';

/** A produced file: workspace-relative path and SHA-256 of its bytes. */
export interface ArtifactDigest {
  path: string;
  sha256: string;
}

export interface JobIdentity {
  namespace: string;
  name: string;
  uid: string;
  deh: string;
}

/** Everything a tool may use. Arguments are already validated against the manifest and the gates. */
export interface ToolContext {
  /** 0-based index of the step in the envelope. */
  stepIndex: number;
  spec: ToolSpec;
  args: Readonly<Record<string, string>>;
  mode: ExecutionMode;
  workspace: Workspace;
  output: OutputCapture;
  /** min(manifest timeout, remaining runtime budget). */
  timeoutMs: number;
  /** The complete environment for child processes (allow-listed, never the runner's own). */
  childEnv: Readonly<Record<string, string>>;
  /** Present only for tools the manifest marks as networked. */
  egress: EgressLease | undefined;
  job: JobIdentity;
}

export interface ToolResult {
  /** 0..255, or -1 when killed, timed out or never started. */
  exitCode: number;
  timedOut?: boolean;
  /** A refusal or failure the tool detected itself (e.g. the egress gate refused). */
  reasonCode?: ReasonCode;
  message?: string;
  /** Files the tool produced; when empty the runner saves the step output as the step's artifact. */
  artifacts: ArtifactDigest[];
}

export type ToolImplementation = (ctx: ToolContext) => Promise<ToolResult>;
