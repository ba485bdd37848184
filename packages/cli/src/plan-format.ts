import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as namespaces from '@ns/namespaces';
import type { ContainerPlan } from '@ns/namespaces';

type FormatPlan = (plan: ContainerPlan['plan']) => string;

/**
 * `formatPlan` of @ns/syscalls, for `ns run --dry-run`. @ns/cli does not depend on
 * @ns/syscalls directly, so it is taken from @ns/namespaces when that re-exports it, else
 * loaded from where @ns/namespaces resolves @ns/syscalls (its own dependency).
 */
export async function loadFormatPlan(): Promise<FormatPlan> {
  const direct = (namespaces as unknown as Record<string, unknown>).formatPlan;
  if (typeof direct === 'function') return direct as FormatPlan;
  const fromCli = createRequire(import.meta.url);
  const fromNamespaces = createRequire(fromCli.resolve('@ns/namespaces'));
  const syscalls = (await import(pathToFileURL(fromNamespaces.resolve('@ns/syscalls')).href)) as { formatPlan?: unknown };
  if (typeof syscalls.formatPlan !== 'function') throw new Error('@ns/syscalls has no formatPlan()');
  return syscalls.formatPlan as FormatPlan;
}
