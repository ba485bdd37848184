import type { CapabilityName } from './table.js';

/**
 * The capabilities a container keeps by default: the allow-list Docker and containerd
 * keep, 14 names, in Docker's order. As a mask: `0xa80425fbn`, the CapEff of a default Docker container. capabilities(7).
 */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/**
 * The drop list of the 2014 libcontainer nsinit seed (a deny-list: everything else was
 * kept), plus CAP_NET_ADMIN, added in its next revision.
 * Kept for history and for converting old container.json files; new containers use the
 * allow-list {@link DEFAULT_CAPABILITIES}. capabilities(7).
 */
export const SEED_DROP_CAPABILITIES: readonly CapabilityName[] = Object.freeze([
  'CAP_SETPCAP',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_NET_ADMIN',
]);
