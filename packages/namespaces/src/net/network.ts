/**
 * Container.bridge wired into a start: its check (validateContainer), the `network` sync step
 * at which the parent puts the new network namespace on the bridge (net/bridge.ts), and the
 * teardown at exit (exec() alone) or at delete (lifecycle containers).
 */
import { configError } from '@ns/syscalls';
import type { Container } from '../config/container.js';
import { registerSyncHandler } from '../process/sync.js';
import { setupBridge, subnetOf, teardownBridge } from './bridge.js';

/** The sync step at which the parent sets up the container's bridge network. */
export const NETWORK_SYNC = 'network';

/**
 * Check `c.bridge`: `{ name, subnet }`, a link name the kernel takes (1-15 bytes, no `/`, `:` or
 * space), an IPv4 subnet /16../30, and a network namespace of the container's own (a joined or
 * the host's one is not the container's to wire).
 * @throws NsError `ERR_NS_CONFIG` naming the field.
 */
export function checkBridge(c: Pick<Container, 'bridge' | 'namespaces'>): void {
  const b = c.bridge;
  if (b === undefined) return;
  if (typeof b !== 'object' || b === null) throw configError('bridge: expected { name, subnet }', 'bridge');
  if (typeof b.name !== 'string' || !/^[A-Za-z0-9_.-]{1,15}$/.test(b.name)) {
    throw configError(`bridge.name: expected a link name of 1 to 15 letters, digits, '_', '.' or '-', got ${JSON.stringify(b.name)}`, 'bridge.name');
  }
  subnetOf(b);
  const net = c.namespaces?.find((n) => n.type === 'network');
  if (!net || net.path !== undefined) throw configError('bridge: needs a network namespace of the container\'s own (namespaces: { type: "network" } without a path)', 'bridge');
}

/** The steps of a plan for `c.bridge`: one sync step, while the new network namespace exists and nothing runs in it yet. */
export function networkSyncSteps(c: Pick<Container, 'bridge'>): { op: 'sync'; name: string }[] {
  return c.bridge ? [{ op: 'sync', name: NETWORK_SYNC }] : [];
}

/** Undo the bridge network of container `c` (delete): its host veth and its address. */
export function releaseNetwork(c: Pick<Container, 'bridge' | 'id'>): void {
  if (c.bridge) teardownBridge(c.bridge, c.id);
}

registerSyncHandler(NETWORK_SYNC, (ctx) => {
  const b = ctx.container.bridge;
  if (!b) return;
  setupBridge(b, ctx.container.id, ctx.pid);
  ctx.onFailure(() => teardownBridge(b, ctx.container.id));
  if (!ctx.lifecycle) {
    ctx.onExit(() => {
      try {
        teardownBridge(b, ctx.container.id);
      } catch {
        // the exit is what the caller waits for
      }
      return {};
    });
  }
});
