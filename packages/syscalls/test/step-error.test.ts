/**
 * The message of a failed plan step (stepError): the step, its field, the errno's name and,
 * as runc words it, its text, which podman matches (`operation not permitted`,
 * `no such file or directory`: libpod/oci_util.go getOCIRuntimeError).
 */
import { describe, expect, it } from 'vitest';
import { describeStep, stepError } from '../src/index.js';

describe('stepError', () => {
  it("names a refused rlimit by RLIMIT_* and runc's type number, its field, and the errno's text", () => {
    const step = { op: 'setrlimit', resource: 7, soft: 20001, hard: 20001, field: 'process.rlimits[0]' } as const;
    expect(describeStep(step)).toBe('setrlimit RLIMIT_NOFILE (rlimit type 7) 20001/20001');
    expect(stepError(step, 4, 1)).toMatchObject({
      code: 'EPERM',
      syscall: 'setrlimit',
      message: 'setrlimit RLIMIT_NOFILE (rlimit type 7) 20001/20001 (process.rlimits[0]): EPERM (operation not permitted)',
    });
  });

  it('gives the text of every errno but an execve, which its callers word (executable file not found in $PATH)', () => {
    expect(stepError({ op: 'chdir', path: '/nope' }, 1, 2).message).toBe('chdir /nope: ENOENT (no such file or directory)');
    expect(stepError({ op: 'execve', paths: ['/bin/nope'], argv: ['/bin/nope'], envp: [] }, 1, 2).message).toBe('execve /bin/nope: ENOENT');
  });
});
