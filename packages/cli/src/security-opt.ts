/**
 * `--security-opt` of `ns run` and `ns create`, as Docker's: `seccomp=unconfined` (no filter),
 * `seccomp=default` (moby's default profile, what `ns run` applies anyway to the default and
 * `--rootfs` containers), `seccomp=FILE` (an OCI `linux.seccomp` or a moby-format profile, which
 * replaces a bundle's `linux.seccomp` too), and `no-new-privileges[=true|false]`.
 */
import { capabilitySetsOf, loadSeccompProfile, type Container } from '@ns/namespaces';
import { CAPABILITIES } from '@ns/capabilities';
import { usage } from './errors.js';
import { absolutePath } from './io.js';

/**
 * `container` with the `--security-opt` entries applied, in order.
 * @param cwd directory a relative profile path is taken from (null: the working directory is gone)
 * @throws NsError `ERR_NS_CONFIG` for an option ns does not know (`apparmor=`, `label=` ...: they
 *   would confine nothing here) or a bad profile file (naming the file and field);
 *   `ERR_NS_NOT_FOUND` for a missing file.
 */
export function applySecurityOpts(container: Container, options: readonly string[], cwd: string | null): Container {
  let out = container;
  for (const opt of options) {
    const eq = opt.search(/[=:]/);
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? undefined : opt.slice(eq + 1);
    if (key === 'seccomp' && value !== undefined && value !== '') {
      if (value === 'unconfined') {
        out = { ...out };
        delete out.seccomp;
      } else if (value === 'default' || value === 'builtin') {
        out = { ...out, seccomp: 'default' };
      } else {
        const bounding = capabilitySetsOf(out).bounding;
        const names = CAPABILITIES.filter((c) => (bounding >> BigInt(c.value)) & 1n).map((c) => c.name);
        out = { ...out, seccomp: loadSeccompProfile(absolutePath(cwd, value, '--security-opt seccomp'), names) };
      }
    } else if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) {
      out = { ...out, noNewPrivileges: value !== 'false' };
    } else {
      throw usage(`--security-opt ${JSON.stringify(opt)}: expected seccomp=unconfined, seccomp=default, seccomp=FILE or no-new-privileges[=true|false]`, 'security-opt');
    }
  }
  return out;
}
