import type { AutonomyBudget, EffectiveEnvelope } from '../api/envelope.ts';
import { WRITE_SCOPES } from '../api/envelope.ts';
import { stop } from './codes.ts';

/** Open-weight caps (seed §6.3). The engine applies them before hashing; the runner only ever tightens again. */
const OPEN_WEIGHT_CAPS = { maxSteps: 50, maxToolCalls: 25, maxRuntimeSeconds: 120 } as const;

/** The budget the runner enforces: the signed one, tightened for open-weight models (never widened). */
export function enforcedBudget(envelope: EffectiveEnvelope): AutonomyBudget {
  const b = { ...envelope.autonomyBudget };
  if (envelope.modelSource === 'open') {
    b.maxSteps = Math.min(b.maxSteps, OPEN_WEIGHT_CAPS.maxSteps);
    b.maxToolCalls = Math.min(b.maxToolCalls, OPEN_WEIGHT_CAPS.maxToolCalls);
    b.maxRuntimeSeconds = Math.min(b.maxRuntimeSeconds, OPEN_WEIGHT_CAPS.maxRuntimeSeconds);
    if (writeScopeRank(b.maxWriteScope) > writeScopeRank('sandbox')) b.maxWriteScope = 'sandbox';
  }
  return b;
}

/** none < sandbox < staging < prod; an unknown scope ranks above everything, so it never grants anything. */
export function writeScopeRank(scope: string): number {
  const i = (WRITE_SCOPES as readonly string[]).indexOf(scope);
  return i === -1 ? Number.POSITIVE_INFINITY : i;
}

/** True when a tool needing `required` may run under an envelope allowing `allowed`. Unknown allowed → false. */
export function writeScopeAllows(allowed: string, required: string): boolean {
  const a = writeScopeRank(allowed);
  const r = writeScopeRank(required);
  return Number.isFinite(a) && Number.isFinite(r) && r <= a;
}

export interface BudgetUsage {
  steps: number;
  toolCalls: number;
  runtimeMs: number;
  externalIO: number;
}

/**
 * Try-then-consume counters (as the seed): a request is denied when the counter has reached the limit and
 * only then is it counted, so nothing ever runs past a limit. The runtime clock starts when the runner starts.
 */
export class BudgetTracker {
  readonly budget: AutonomyBudget;
  private readonly now: () => number;
  private readonly startedAt: number;
  private steps = 0;
  private toolCalls = 0;
  private externalIO = 0;

  /** `used`: what earlier containers of the same job already consumed (steps run one per container). */
  constructor(budget: AutonomyBudget, now: () => number, startedAt: number = now(), used: Partial<Omit<BudgetUsage, 'runtimeMs'>> = {}) {
    this.budget = budget;
    this.now = now;
    this.startedAt = startedAt;
    this.steps = used.steps ?? 0;
    this.toolCalls = used.toolCalls ?? 0;
    this.externalIO = used.externalIO ?? 0;
  }

  get deadline(): number {
    return this.startedAt + this.budget.maxRuntimeSeconds * 1000;
  }

  remainingMs(): number {
    return this.deadline - this.now();
  }

  assertRuntime(when: string): void {
    if (this.remainingMs() <= 0) stop('BUDGET_RUNTIME_EXCEEDED', `maxRuntimeSeconds ${this.budget.maxRuntimeSeconds} exhausted ${when}`);
  }

  takeStep(when: string): void {
    if (this.steps >= this.budget.maxSteps) stop('BUDGET_STEPS_EXCEEDED', `maxSteps ${this.budget.maxSteps} reached ${when}`);
    this.steps++;
  }

  takeToolCall(when: string): void {
    if (this.toolCalls >= this.budget.maxToolCalls) stop('BUDGET_TOOL_CALLS_EXCEEDED', `maxToolCalls ${this.budget.maxToolCalls} reached ${when}`);
    this.toolCalls++;
  }

  /** For the egress gate: false (and nothing counted) when the runtime or maxExternalIO is used up. */
  tryExternalIO(): 'ok' | 'BUDGET_EXTERNAL_IO_EXCEEDED' | 'BUDGET_RUNTIME_EXCEEDED' {
    if (this.remainingMs() <= 0) return 'BUDGET_RUNTIME_EXCEEDED';
    if (this.externalIO >= this.budget.maxExternalIO) return 'BUDGET_EXTERNAL_IO_EXCEEDED';
    this.externalIO++;
    return 'ok';
  }

  usage(): BudgetUsage {
    return {
      steps: this.steps,
      toolCalls: this.toolCalls,
      runtimeMs: Math.max(0, Math.round(this.now() - this.startedAt)),
      externalIO: this.externalIO,
    };
  }
}
