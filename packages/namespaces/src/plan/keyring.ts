/**
 * The container's session keyring (keyrings(7)), as runc: its process joins a new one named
 * `_ses.<container id>` rather than keeping the caller's, whose keys it could otherwise read
 * or use with keyctl(2); a process started in the container later joins that one by name.
 */
import type { Step } from '@ns/syscalls';

/** KEY_USR_SEARCH: the keyring's owner may find it by name (keyctl_setperm(3)). */
export const KEY_USR_SEARCH = 0x80000;
/** KEY_OTH_SEARCH: anyone may find it by name (needed across a user namespace). */
export const KEY_OTH_SEARCH = 0x8;

/** The name of a container's session keyring: runc's `_ses.<id>`. */
export function sessionKeyringName(id: string): string {
  return `_ses.${id}`;
}

/**
 * The step of a container's process: KEYCTL_JOIN_SESSION_KEYRING `_ses.<id>`, then its
 * permissions kept and search added for its owner (`inUserns` false) or for others (true,
 * runc's getSessionRingParams: the uid that owns it may not be the one an exec runs as
 * there). None with `noNewKeyring` (runc's --no-new-keyring). Made first, before the
 * process changes user, as runc's standard init.
 * @see keyctl_join_session_keyring(3), keyctl_setperm(3), runc libcontainer/standard_init_linux.go
 */
export function containerKeyringSteps(c: { id: string; noNewKeyring?: boolean }, inUserns: boolean): Step[] {
  if (c.noNewKeyring) return [];
  return [{ op: 'joinSessionKeyring', name: sessionKeyringName(c.id), perm: { mask: 0xffffffff, set: inUserns ? KEY_OTH_SEARCH : KEY_USR_SEARCH } }];
}

/**
 * The step of a process started in a running container (execIn()): it joins the
 * container's `_ses.<id>` (made anew if it is gone), permissions untouched, as runc's
 * setns init. None when the container was made with `noNewKeyring`.
 * @see runc libcontainer/setns_init_linux.go
 */
export function execKeyringSteps(c: { id: string; noNewKeyring?: boolean }): Step[] {
  if (c.noNewKeyring) return [];
  return [{ op: 'joinSessionKeyring', name: sessionKeyringName(c.id) }];
}
