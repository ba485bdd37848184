/**
 * The config.json schema, precompiled: oci-table.ts holds the zod schema of oci-schema.ts as
 * plain data (generated from it by test/oci-table.test.ts, which also checks that it is up to
 * date), and {@link acceptOciSpec} checks a value against it without zod. A valid config.json
 * is so read without loading or building zod (a few ms of every `ns run --bundle`); anything
 * the table does not accept goes to zod, which has the last word and the error messages.
 *
 * The table accepts a subset of what zod accepts (plain JSON data only, see below), and gives
 * the value zod's parse would: known fields in the schema's order, then the unknown ones.
 */
import { OCI_TABLE } from './oci-table.js';

/** One schema node, as the zod node it was made from (`def.type` and its checks). */
export type OciNode =
  /** A loose object: `shape` is checked, other fields are kept as they are. */
  | { type: 'object'; shape: Record<string, OciNode> }
  /** A field that may be missing. */
  | { type: 'optional'; inner: OciNode }
  | { type: 'array'; element: OciNode }
  /** An object of string keys, every value checked. */
  | { type: 'record'; value: OciNode }
  | { type: 'string'; minLength?: number }
  /**
   * A finite number; `integer`: `safe` (Number.isSafeInteger, zod's int) or `any`
   * (Number.isInteger); `min` / `max` inclusive.
   */
  | { type: 'number'; integer?: 'safe' | 'any'; min?: number; max?: number }
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] };

/** A value the table does not decide on: zod does. */
const NO = Symbol('no');

/** An object of plain JSON (Object.prototype or null prototype, no symbol keys, no `__proto__` key). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && Object.getOwnPropertySymbols(v).length === 0 && !Object.hasOwn(v, '__proto__');
}

function check(node: OciNode, v: unknown): unknown {
  switch (node.type) {
    case 'object': {
      if (!isPlainObject(v)) return NO;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(node.shape)) {
        const field = node.shape[key]!;
        if (!Object.hasOwn(v, key)) {
          if (field.type === 'optional') continue;
          return NO;
        }
        const r = check(field, v[key]);
        if (r === NO) return NO;
        out[key] = r;
      }
      for (const key of Object.keys(v)) if (!Object.hasOwn(node.shape, key)) out[key] = v[key];
      return out;
    }
    case 'optional':
      return v === undefined ? NO : check(node.inner, v);
    case 'array': {
      if (!Array.isArray(v)) return NO;
      const out: unknown[] = [];
      for (let i = 0; i < v.length; i++) {
        const r = i in v ? check(node.element, v[i]) : NO;
        if (r === NO) return NO;
        out.push(r);
      }
      return out;
    }
    case 'record': {
      if (!isPlainObject(v)) return NO;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        const r = check(node.value, v[key]);
        if (r === NO) return NO;
        out[key] = r;
      }
      return out;
    }
    case 'string':
      return typeof v === 'string' && v.length >= (node.minLength ?? 0) ? v : NO;
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return NO;
      if (node.integer === 'safe' ? !Number.isSafeInteger(v) : node.integer === 'any' && !Number.isInteger(v)) return NO;
      if ((node.min !== undefined && v < node.min) || (node.max !== undefined && v > node.max)) return NO;
      return v;
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : NO;
    case 'enum':
      return typeof v === 'string' && node.values.includes(v) ? v : NO;
  }
}

/**
 * `value` checked against a schema table (default: the config.json schema's): the value
 * zod's safeParse would return for it, or undefined when the table does not accept it (then
 * only zod can tell whether it is valid, and why not).
 * @internal parseOciSpec(); tests check it against zod
 */
export function acceptOciSpec(value: unknown, table: OciNode = OCI_TABLE): unknown {
  const out = check(table, value);
  return out === NO ? undefined : out;
}
