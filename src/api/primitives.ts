import { z } from 'zod';

/**
 * Bounded building blocks. Every string has a maximum length and every list a maximum number of items, so
 * the API server refuses any object that could hurt the controller (huge strings or arrays, deep nesting).
 */
/** Characters as Kubernetes counts them for maxLength: code points (an emoji is one, not two UTF-16 units). */
export function characterCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Free text of at most maxLength characters. zod's .max() counts UTF-16 units, the API server counts code
 * points; counting like the API server keeps the two in agreement for text outside the BMP (emoji), so the
 * controller never refuses an object the API server stored. maxLength still reaches the CRD via metadata.
 */
export function text(maxLength: number, description: string) {
  return z
    .string()
    .refine((s) => characterCount(s) <= maxLength, { message: `must be at most ${maxLength} characters` })
    .meta({ description, maxLength });
}

export function nonEmptyText(maxLength: number, description: string) {
  return z
    .string()
    .min(1)
    .refine((s) => characterCount(s) <= maxLength, { message: `must be at most ${maxLength} characters` })
    .meta({ description, maxLength });
}

/** CEL rule making a spec immutable; the message tells the user what to do instead. */
export const IMMUTABLE_SPEC = [
  { rule: 'self == oldSelf', message: 'spec is immutable: create a new object instead (a Proposal may name the one it supersedes)' },
];

/** A Kubernetes object name (DNS-1123 subdomain). */
export function objectName(description: string) {
  return z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
    .meta({ description });
}

/** A lowercase hex SHA-256 digest. */
export function sha256Hex(description: string) {
  return z
    .string()
    .length(64)
    .regex(/^[0-9a-f]{64}$/)
    .meta({ description });
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 timestamp, as Kubernetes writes them. The API server checks format date-time; the refinement
 * makes zod refuse what it would refuse (zod does not check formats given as metadata).
 */
export function timestamp(description: string) {
  return z
    .string()
    .max(64)
    .refine((s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)), { message: 'must be an RFC 3339 timestamp, e.g. 2025-06-02T09:30:00Z' })
    .meta({ description, format: 'date-time' });
}

export function boundedList<T extends z.ZodType>(item: T, maxItems: number, description: string) {
  return z.array(item).max(maxItems).meta({ description });
}

export const ObjectRef = z
  .object({
    name: objectName('Name of the referenced object.'),
    uid: nonEmptyText(64, 'UID of the referenced object; binds the reference to one incarnation of the name.'),
  })
  .meta({ description: 'A reference to an object in the same namespace, bound to its UID.' });
export type ObjectRef = z.infer<typeof ObjectRef>;

/** metav1.Condition, so kubectl wait --for=condition=… and every Kubernetes tool reads it. */
export const Condition = z
  .object({
    type: nonEmptyText(316, 'Condition type in CamelCase, e.g. Decided, Approved, Executed, EnvelopeVerified, Succeeded.'),
    status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
    reason: nonEmptyText(1024, 'A CamelCase, machine-readable reason for the last transition.'),
    message: text(32768, 'A human-readable message about the last transition.'),
    lastTransitionTime: timestamp('When the condition last changed status.'),
    observedGeneration: z.int().min(0).optional().meta({ description: 'The metadata.generation the condition was set for.' }),
  })
  .meta({ description: 'A standard Kubernetes condition.' });
export type Condition = z.infer<typeof Condition>;

export const Conditions = boundedList(Condition, 16, 'Current conditions of the object.');

export const MAX_STEP_ARGS = 16;

/**
 * Step arguments: a flat map of strings. Flat and string-only keeps hashing, validation and path checks simple.
 * The CRD carries maxProperties and a CEL rule for the key format; zod checks both itself.
 */
export const StepArgs = z
  .record(z.string().min(1).max(63).regex(/^[A-Za-z][A-Za-z0-9_]*$/), text(65536, 'Argument value.'))
  .refine((args) => Object.keys(args).length <= MAX_STEP_ARGS, { message: `at most ${MAX_STEP_ARGS} arguments` })
  .meta({
    description: 'Tool arguments as a flat map of name to string value; each Tool gives its argument schema (ints and bools are written as strings).',
    maxProperties: MAX_STEP_ARGS,
  });
export type StepArgs = z.infer<typeof StepArgs>;

export const Step = z
  .object({
    tool: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z][a-z0-9_-]*$/)
      .meta({ description: 'Name of a Tool in the catalogue (kubectl m87 tools lists them).' }),
    args: StepArgs.default({}),
  })
  .meta({ description: 'One tool invocation the runner performs.' });
export type Step = z.infer<typeof Step>;
