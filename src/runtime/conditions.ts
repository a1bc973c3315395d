// metav1.Condition helpers. Conditions are the status vocabulary users and kubectl understand; the one
// rule that matters is that lastTransitionTime moves only when `status` changes, so "since when is this
// False" stays truthful across reconciles that merely refresh reason/message/observedGeneration.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  /** RFC 3339, seconds precision (metav1.Time). */
  lastTransitionTime: string;
}

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

// Same patterns as metav1.Condition's OpenAPI validation.
const TYPE_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const REASON_RE = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const MAX_MESSAGE = 32768;

/** metav1.Time wire format: RFC 3339 in UTC without fractional seconds. */
export function formatTime(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new Error('formatTime: invalid date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function validate(input: ConditionInput): void {
  if (input.type.length > 316 || !TYPE_RE.test(input.type)) {
    throw new Error(`condition.type ${JSON.stringify(input.type)} is not a valid condition type`);
  }
  if (input.status !== 'True' && input.status !== 'False' && input.status !== 'Unknown') {
    throw new Error(`condition.status ${JSON.stringify(input.status)} must be True, False or Unknown`);
  }
  if (input.reason.length > 1024 || !REASON_RE.test(input.reason)) {
    throw new Error(`condition.reason ${JSON.stringify(input.reason)} must be CamelCase (metav1.Condition)`);
  }
  if ((input.message ?? '').length > MAX_MESSAGE) {
    throw new Error(`condition.message is longer than ${MAX_MESSAGE} characters`);
  }
  if (input.observedGeneration !== undefined && !(Number.isInteger(input.observedGeneration) && input.observedGeneration >= 0)) {
    throw new Error('condition.observedGeneration must be a non-negative integer');
  }
}

/**
 * Returns a new conditions array with `input` set (added or replaced in place, order kept).
 * lastTransitionTime is `now` for a new condition or a status change, else it is kept.
 */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, now: Date): Condition[] {
  validate(input);
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === input.type);
  const existing = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message ?? '',
    ...(input.observedGeneration !== undefined ? { observedGeneration: input.observedGeneration } : {}),
    lastTransitionTime:
      existing !== undefined && existing.status === input.status ? existing.lastTransitionTime : formatTime(now),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
