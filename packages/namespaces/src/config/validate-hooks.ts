/**
 * The checks of a Container's `hooks` and `annotations` (validateContainer), with the rules of
 * config.md "POSIX-platform Hooks": `path` absolute, `args` and `env` strings (env as
 * KEY=value), `timeout` a positive number of seconds.
 */
import { isAbsolute } from 'node:path';
import { configError } from '@ns/syscalls';
import type { HookKind } from './container.js';
import { isEnvEntry } from './env.js';

const KINDS: readonly HookKind[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v);

function strings(value: unknown, field: string, env: boolean): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw configError(`${field}: expected a list of strings, got ${show(value)}`, field);
  value.forEach((v, i) => {
    if (typeof v !== 'string' || v.includes('\0')) throw configError(`${field}[${i}]: expected a string without NUL, got ${show(v)}`, `${field}[${i}]`);
    if (env && !isEnvEntry(v)) throw configError(`${field}[${i}]: expected KEY=value, got ${show(v)}`, `${field}[${i}]`);
  });
}

/**
 * Check `hooks` (a Container's): an object of the six kinds, each a list of
 * `{ path, args?, env?, timeout? }`.
 * @throws NsError `ERR_NS_CONFIG` naming the field: `hooks.prestart[0].path: must be absolute`.
 */
export function checkHooks(hooks: unknown): void {
  if (hooks === undefined) return;
  if (!isObject(hooks)) throw configError(`hooks: expected { prestart?, createRuntime?, ... }, got ${show(hooks)}`, 'hooks');
  for (const [kind, list] of Object.entries(hooks)) {
    if (!(KINDS as readonly string[]).includes(kind)) throw configError(`hooks.${kind}: unknown hook kind (expected ${KINDS.join(', ')})`, `hooks.${kind}`);
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw configError(`hooks.${kind}: expected a list of hooks, got ${show(list)}`, `hooks.${kind}`);
    list.forEach((hook: unknown, i) => {
      const field = `hooks.${kind}[${i}]`;
      if (!isObject(hook)) throw configError(`${field}: expected { path, args?, env?, timeout? }, got ${show(hook)}`, field);
      if (typeof hook.path !== 'string' || !isAbsolute(hook.path) || hook.path.includes('\0')) {
        throw configError(`${field}.path: must be an absolute path (config.md), got ${show(hook.path)}`, `${field}.path`);
      }
      strings(hook.args, `${field}.args`, false);
      strings(hook.env, `${field}.env`, true);
      const t = hook.timeout;
      if (t !== undefined && !(typeof t === 'number' && Number.isInteger(t) && t > 0)) {
        throw configError(`${field}.timeout: expected a whole number of seconds > 0, got ${show(t)}`, `${field}.timeout`);
      }
    });
  }
}

/**
 * Check `annotations`: an object of string values.
 * @throws NsError `ERR_NS_CONFIG` naming the key.
 */
export function checkAnnotations(annotations: unknown): void {
  if (annotations === undefined) return;
  if (!isObject(annotations)) throw configError(`annotations: expected an object of strings, got ${show(annotations)}`, 'annotations');
  for (const [k, v] of Object.entries(annotations)) {
    if (typeof v !== 'string') throw configError(`annotations[${JSON.stringify(k)}]: expected a string, got ${show(v)}`, `annotations[${JSON.stringify(k)}]`);
  }
}
