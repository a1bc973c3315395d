// Pure: KINDS (zod schemas) → CustomResourceDefinition objects. The CRDs under crds/ are this output, so the
// API server validates exactly what the zod schemas describe (a unit test fails when they drift).
import { stringify } from 'yaml';
import { z } from 'zod';
import { CATEGORY, GROUP, VERSION } from '../../src/api/group.ts';
import { KINDS, type KindInfo, type PrinterColumn } from '../../src/api/kinds.ts';

/** An OpenAPI v3 schema node as the API server reads it (JSONSchemaProps); plain JSON. */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: unknown[];
  [keyword: string]: unknown;
}

export interface ValidationRule {
  rule: string;
  message: string;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: SchemaNode };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
    }[];
  };
}

export class SchemaGenerationError extends Error {
  override name = 'SchemaGenerationError';
}

/** Keywords a structural schema may carry. Anything else (anyOf, oneOf, $ref, not, …) fails generation. */
const ALLOWED_KEYWORDS = new Set([
  'type',
  'description',
  'properties',
  'additionalProperties',
  'items',
  'required',
  'enum',
  'default',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'uniqueItems',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]);

/** Zod output keywords that have no place in a structural schema and are dropped. */
const DROPPED_KEYWORDS = new Set(['$schema', '$id', 'id', 'title', 'propertyNames', 'examples']);

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

/** CEL string literal (single-quoted) for a regular expression or message. */
function celString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Records become plain additionalProperties maps, which cannot constrain their keys; the key schema (length,
 * pattern) is carried over as a CEL rule so the API server refuses the same keys zod does.
 */
function recordKeyRule(keyType: z.ZodType, path: string): ValidationRule | undefined {
  const key = z.toJSONSchema(keyType, { target: 'openapi-3.0' }) as SchemaNode;
  if (key.type !== 'string') throw new SchemaGenerationError(`${path}: record keys must be strings`);
  const conditions: string[] = [];
  const parts: string[] = [];
  if (typeof key.minLength === 'number' && key.minLength > 0) conditions.push(`size(k) >= ${key.minLength}`);
  if (typeof key.maxLength === 'number') {
    conditions.push(`size(k) <= ${key.maxLength}`);
    parts.push(`be at most ${key.maxLength} characters long`);
  }
  if (typeof key.pattern === 'string') {
    conditions.push(`k.matches(${celString(key.pattern)})`);
    parts.push(`match ${key.pattern}`);
  }
  if (conditions.length === 0) return undefined;
  return { rule: `self.all(k, ${conditions.join(' && ')})`, message: `keys must ${parts.join(' and ') || 'not be empty'}` };
}

function zodToJsonSchema(schema: z.ZodType, where: string): SchemaNode {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'throw',
    cycles: 'throw',
    reused: 'inline',
    override: (ctx) => {
      const def = ctx.zodSchema._zod.def;
      if (def.type !== 'record') return;
      const rule = recordKeyRule((def as unknown as { keyType: z.ZodType }).keyType, `${where}.${ctx.path.join('.')}`);
      if (!rule) return;
      const json = ctx.jsonSchema as SchemaNode;
      const existing = (json['x-kubernetes-validations'] as ValidationRule[] | undefined) ?? [];
      json['x-kubernetes-validations'] = [...existing, rule];
    },
  }) as SchemaNode;
}

function longestLength(values: unknown[]): number {
  return Math.max(...values.map((v) => String(v).length));
}

/**
 * Turns zod's OpenAPI 3.0 output into a structural schema (every node typed, no unions or references, maps
 * as additionalProperties only) and enforces the API's own rules: every property described, every string,
 * list and map bounded, so the API server never stores an object that could hurt the controller.
 */
export function structural(node: unknown, path: string): SchemaNode {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    throw new SchemaGenerationError(`${path}: schema node is not an object`);
  }
  const out: SchemaNode = {};
  for (const [keyword, value] of Object.entries(node as Record<string, unknown>)) {
    if (DROPPED_KEYWORDS.has(keyword)) continue;
    if (keyword === 'additionalProperties' && value === false) continue; // structural schemas prune instead
    if (!ALLOWED_KEYWORDS.has(keyword)) {
      throw new SchemaGenerationError(`${path}: '${keyword}' is not allowed in a structural schema (value ${JSON.stringify(value)})`);
    }
    out[keyword] = value;
  }

  // z.literal(1) arrives as a number enum; integers are what is meant.
  if (out.type === 'number' && Array.isArray(out.enum) && out.enum.every((v) => Number.isInteger(v))) out.type = 'integer';
  if (typeof out.type !== 'string' || !TYPES.has(out.type)) {
    throw new SchemaGenerationError(`${path}: every node needs a type (got ${JSON.stringify(out.type)})`);
  }

  switch (out.type) {
    case 'string':
      // Enums are bounded by their longest value; saying so lets the CEL cost estimator know it too.
      if (out.maxLength === undefined && Array.isArray(out.enum)) out.maxLength = longestLength(out.enum);
      if (typeof out.maxLength !== 'number') throw new SchemaGenerationError(`${path}: string without maxLength`);
      break;
    case 'array':
      if (typeof out.maxItems !== 'number') throw new SchemaGenerationError(`${path}: array without maxItems`);
      if (out.items === undefined) throw new SchemaGenerationError(`${path}: array without items`);
      out.items = structural(out.items, `${path}[]`);
      break;
    case 'object':
      if (out.properties !== undefined && out.additionalProperties !== undefined) {
        throw new SchemaGenerationError(`${path}: properties and additionalProperties together are not structural`);
      }
      if (out.properties !== undefined) {
        const properties: Record<string, SchemaNode> = {};
        for (const [name, child] of Object.entries(out.properties)) {
          const childPath = `${path}.${name}`;
          const converted = structural(child, childPath);
          if (typeof converted.description !== 'string' || converted.description.trim() === '') {
            throw new SchemaGenerationError(`${childPath}: property has no description (kubectl explain would show nothing)`);
          }
          properties[name] = converted;
        }
        out.properties = properties;
      }
      if (out.additionalProperties !== undefined) {
        if (typeof out.additionalProperties !== 'object') throw new SchemaGenerationError(`${path}: additionalProperties must be a schema`);
        if (typeof out.maxProperties !== 'number') throw new SchemaGenerationError(`${path}: map without maxProperties`);
        out.additionalProperties = structural(out.additionalProperties, `${path}.*`);
      }
      break;
    default:
      break;
  }
  // type and description first: the generated YAML reads like kubectl explain.
  const { type, description, ...rest } = out;
  return description === undefined ? { type, ...rest } : { type, description, ...rest };
}

/** The structural OpenAPI schema of one zod schema (spec or status). */
export function schemaFor(schema: z.ZodType, where: string): SchemaNode {
  const converted = structural(zodToJsonSchema(schema, where), where);
  if (converted.type !== 'object') throw new SchemaGenerationError(`${where}: must be an object`);
  return converted;
}

export function crdName(info: Pick<KindInfo, 'plural'>): string {
  return `${info.plural}.${GROUP}`;
}

export function crdFileName(info: Pick<KindInfo, 'plural'>): string {
  return `${crdName(info)}.yaml`;
}

export function generateCrd(info: KindInfo): CustomResourceDefinition {
  const spec = schemaFor(info.spec, `${info.kind}.spec`);
  const status = schemaFor(info.status, `${info.kind}.status`);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName(info), labels: { 'app.kubernetes.io/part-of': 'm87' } },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: [...info.shortNames],
        categories: [CATEGORY],
      },
      scope: info.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: info.description,
              required: ['spec'],
              ...(info.objectValidations !== undefined ? { 'x-kubernetes-validations': info.objectValidations.map((r) => ({ ...r })) } : {}),
              properties: {
                apiVersion: {
                  type: 'string',
                  description: `APIVersion defines the versioned schema of this representation of an object (${GROUP}/${VERSION}).`,
                },
                kind: { type: 'string', description: `Kind is the type of this object (${info.kind}).` },
                // The API server allows nothing but the type here (not even a description).
                metadata: { type: 'object' },
                spec,
                status,
              },
            },
          },
          subresources: { status: {} },
          additionalPrinterColumns: info.printerColumns.map((c) => ({ ...c })),
        },
      ],
    },
  };
}

export interface GeneratedFile {
  /** Path relative to the repository root. */
  path: string;
  content: string;
}

export const CRD_DIR = 'crds';

/** Every CRD, in KINDS order. */
export function generateCrds(): CustomResourceDefinition[] {
  return Object.values(KINDS).map((info) => generateCrd(info as KindInfo));
}

const HEADER = '# Generated by `npm run gen` from the zod schemas in src/api. Do not edit by hand.\n';

/** Stable YAML: no line folding, so diffs show the schema change and nothing else. */
export function toYaml(value: unknown, header = HEADER): string {
  return header + stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

export function crdFiles(): GeneratedFile[] {
  return Object.values(KINDS).map((info) => ({
    path: `${CRD_DIR}/${crdFileName(info)}`,
    content: toYaml(generateCrd(info as KindInfo)),
  }));
}
