/**
 * Fields of a config.json the schema does not know. The spec says a runtime MUST ignore them
 * (config.md "Extensibility"), and runc does so silently; but a typo of a security field
 * (`noNewPrivilege`, `maskedPath`, `readOnly`) would then weaken a container unseen, so each one
 * is named in a warning, with the known field it resembles.
 */
import type { OciNode } from './oci-check.js';
import { OCI_TABLE } from './oci-table.js';

/** Top-level sections with rows of their own in ociWarnings() or oci-unsupported.ts. */
const HANDLED_TOP = new Set(['windows', 'solaris', 'zos', 'vm']);

/** Levenshtein distance, capped at `max + 1`: enough to tell a near miss apart. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The known key `key` most likely stands for (case aside, or 2 edits at most), if any. */
function resembles(key: string, known: string[]): string | undefined {
  const lower = key.toLowerCase();
  return known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => distance(lower, k.toLowerCase(), 2) <= 2);
}

/**
 * The unknown fields of `spec` (a config.json that passed the schema), as warnings in
 * config.json order: `process.noNewPrivilege: unknown field, ignored (did you mean
 * noNewPrivileges?)`. Values of records (annotations, sysctl ...) are not fields.
 */
export function unknownFieldWarnings(spec: unknown): string[] {
  const out: string[] = [];
  const walk = (node: OciNode, value: unknown, path: string): void => {
    switch (node.type) {
      case 'optional':
        if (value !== undefined) walk(node.inner, value, path);
        return;
      case 'array':
        if (Array.isArray(value)) value.forEach((v, i) => walk(node.element, v, `${path}[${i}]`));
        return;
      case 'record':
        if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) walk(node.value, v, `${path}[${JSON.stringify(k)}]`);
        return;
      case 'object': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
        const known = Object.keys(node.shape);
        for (const [key, v] of Object.entries(value)) {
          const at = path ? `${path}.${key}` : key;
          const field = node.shape[key];
          if (field !== undefined) walk(field, v, at);
          else if (!(path === '' && HANDLED_TOP.has(key))) {
            const like = resembles(key, known);
            out.push(`${at}: unknown field, ignored${like !== undefined ? ` (did you mean ${path ? `${path}.` : ''}${like}?)` : ''}`);
          }
        }
        return;
      }
      default:
        return;
    }
  };
  walk(OCI_TABLE, spec, '');
  return out;
}
