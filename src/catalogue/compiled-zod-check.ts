import { z, type ZodTypeAny } from 'zod';

// zod's safeParse costs ~5 µs a node and copies it: a third of the time a 10,000-package catalogue
// takes to load. A schema is compiled once into a plain check of the same rules; a value that
// passes is valid as it is (it has no keys the schema would strip). A value that fails, and every
// schema with a kind of rule not compiled here (refinements, defaults, transforms...), goes
// through zod itself, so zod decides and words every problem.

/** A compiled check: true when the schema accepts the value unchanged. */
export type Check = (value: unknown) => boolean;

/** A check of the same rules as `schema` (objects, arrays, optional, literals, strings and numbers with bounds); undefined for anything else. */
export function compileZodCheck(schema: ZodTypeAny): Check | undefined {
  if (schema instanceof z.ZodObject) {
    if (schema._def.unknownKeys !== 'strip' || !(schema._def.catchall instanceof z.ZodNever)) return undefined;
    const fields: [string, Check][] = [];
    for (const [key, field] of Object.entries(schema.shape as Record<string, ZodTypeAny>)) {
      const check = compileZodCheck(field);
      if (!check) return undefined;
      fields.push([key, check]);
    }
    return (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
      for (const [key, check] of fields) if (!check((v as Record<string, unknown>)[key])) return false;
      return true;
    };
  }
  if (schema instanceof z.ZodOptional) {
    const inner = compileZodCheck(schema._def.innerType as ZodTypeAny);
    return inner && ((v) => v === undefined || inner(v));
  }
  if (schema instanceof z.ZodArray) {
    const element = compileZodCheck(schema._def.type as ZodTypeAny);
    const { minLength, maxLength, exactLength } = schema._def;
    const min = Math.max(minLength?.value ?? 0, exactLength?.value ?? 0);
    const max = Math.min(maxLength?.value ?? Infinity, exactLength?.value ?? Infinity);
    return element && ((v) => Array.isArray(v) && v.length >= min && v.length <= max && v.every(element));
  }
  if (schema instanceof z.ZodLiteral) {
    const value: unknown = schema._def.value;
    return (v) => v === value;
  }
  if (schema instanceof z.ZodString) {
    let min = 0;
    let max = Infinity;
    for (const c of schema._def.checks) {
      if (c.kind === 'min') min = Math.max(min, c.value);
      else if (c.kind === 'max') max = Math.min(max, c.value);
      else if (c.kind === 'length') {
        min = Math.max(min, c.value);
        max = Math.min(max, c.value);
      } else return undefined;
    }
    return (v) => typeof v === 'string' && v.length >= min && v.length <= max;
  }
  if (schema instanceof z.ZodNumber) {
    const tests: ((n: number) => boolean)[] = [];
    for (const c of schema._def.checks) {
      if (c.kind === 'int') tests.push(Number.isInteger);
      else if (c.kind === 'finite') tests.push(Number.isFinite);
      else if (c.kind === 'min') tests.push(c.inclusive ? (n) => n >= c.value : (n) => n > c.value);
      else if (c.kind === 'max') tests.push(c.inclusive ? (n) => n <= c.value : (n) => n < c.value);
      else return undefined;
    }
    return (v) => typeof v === 'number' && !Number.isNaN(v) && tests.every((t) => t(v));
  }
  return undefined;
}
