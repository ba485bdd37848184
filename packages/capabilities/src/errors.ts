/** The error code of every error this package throws, as in the rest of @ns. */
export const ERR_NS_CONFIG = 'ERR_NS_CONFIG';

/**
 * An invalid capability name, number or mask. `code` is always `'ERR_NS_CONFIG'`, the
 * code @ns uses for a bad config field; `capability` holds the offending input when there
 * is one. Same `code` convention as @ns/syscalls' NsError, without depending on it.
 */
export class CapabilityError extends Error {
  readonly code: string;
  /** The name, number or text that was rejected, as given. */
  readonly capability?: string;

  constructor(message: string, capability?: string) {
    super(message);
    this.name = 'CapabilityError';
    this.code = ERR_NS_CONFIG;
    if (capability !== undefined) this.capability = capability;
  }
}
