import { z } from 'zod';

/**
 * A copy of a zod schema in which every object, however deeply nested, refuses keys it does not declare
 * (zod's default is to drop them silently). The runner parses the signed envelope with it: an envelope that
 * carries a field the runner does not understand is not one it may execute, signed or not. Checks and
 * refinements are kept; a schema kind this function does not know is an error at load time, never a silently
 * lenient parse.
 */
type Def = Record<string, unknown> & { type: string };

function defOf(schema: z.ZodType): Def {
  return schema._zod.def as unknown as Def;
}

function copy<T extends z.ZodType>(schema: T, def: Def): T {
  return schema.clone(def as unknown as T['_zod']['def']);
}

export function strictDeep<T extends z.ZodType>(schema: T): T {
  const def = defOf(schema);
  switch (def.type) {
    case 'object': {
      const shape = Object.fromEntries(Object.entries(def.shape as Record<string, z.ZodType>).map(([k, v]) => [k, strictDeep(v)]));
      return copy(schema, { ...def, shape, catchall: z.never() });
    }
    case 'array':
      return copy(schema, { ...def, element: strictDeep(def.element as z.ZodType) });
    case 'record':
      return copy(schema, { ...def, valueType: strictDeep(def.valueType as z.ZodType) });
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
      return copy(schema, { ...def, innerType: strictDeep(def.innerType as z.ZodType) });
    case 'union':
      return copy(schema, { ...def, options: (def.options as z.ZodType[]).map((o) => strictDeep(o)) });
    case 'string':
    case 'number':
    case 'boolean':
    case 'enum':
    case 'literal':
    case 'null':
      return schema;
    default:
      throw new Error(`strictDeep: zod schema type ${def.type} is not handled`);
  }
}
