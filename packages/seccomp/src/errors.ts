/** The project's error code for a bad or unsupported profile field (as @ns/syscalls' NsError). */
export const ERR_NS_CONFIG = 'ERR_NS_CONFIG';

/**
 * The error this package throws: `code` is `ERR_NS_CONFIG`, `jsonPath` the profile field it is
 * about (`linux.seccomp.syscalls[3].action`), and the message starts with that path. Like
 * @ns/cgroups' CgroupError, it does not import @ns/syscalls, so that this package stays free
 * of the native addon.
 */
export class SeccompError extends Error {
  readonly code: string;
  readonly jsonPath: string;

  constructor(jsonPath: string, message: string) {
    super(`${jsonPath}: ${message}`);
    this.name = 'SeccompError';
    this.code = ERR_NS_CONFIG;
    this.jsonPath = jsonPath;
  }
}

/** Throw a {@link SeccompError} for `jsonPath`. */
export function fail(jsonPath: string, message: string): never {
  throw new SeccompError(jsonPath, message);
}
