// ns-init: id-mapped bind mounts (OCI config.md mount options `idmap` and `ridmap`), in two
// steps. The planner (@ns/namespaces plan/rootfs.ts) puts the open step first in the plan,
// where the process still holds CAP_SYS_ADMIN over the source's file system (mount_setattr
// MOUNT_ATTR_IDMAP needs it in the user namespace that mounted it: the host's), and the move
// step where the mount belongs under the new root, after a user and mount namespace may have
// been made. The user namespace with the mount's mappings is the parent's (a descriptor).
#include <errno.h>
#include <fcntl.h>

#include "init.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

namespace {

constexpr unsigned kOpenTreeClone = 1;         // OPEN_TREE_CLONE
constexpr unsigned kOpenTreeCloexec = O_CLOEXEC;  // OPEN_TREE_CLOEXEC
constexpr unsigned kAtRecursive = 0x8000;      // AT_RECURSIVE
constexpr unsigned kAtEmptyPath = 0x1000;      // AT_EMPTY_PATH
constexpr uint64_t kMountAttrIdmap = 0x00100000;  // MOUNT_ATTR_IDMAP
constexpr unsigned kMoveMountFEmptyPath = 0x00000004;  // MOVE_MOUNT_F_EMPTY_PATH

// struct mount_attr (linux/mount.h), MOUNT_ATTR_SIZE_VER0.
struct k_mount_attr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

}  // namespace

// i[0]: the user namespace descriptor (replaced by the detached mount); i[1]: 1 = clone the
// tree (rbind), 2 = map every mount of it (ridmap); s[0]: the source path.
long ns_do_idmap_open(const ns_step* s) {
  unsigned open_flags = kOpenTreeClone | kOpenTreeCloexec | ((s->i[1] & 1) ? kAtRecursive : 0);
  long tree = NS_RAW3(SYS_open_tree, AT_FDCWD, s->s[0], open_flags);
  if (tree < 0) return tree;
  k_mount_attr attr;
  attr.attr_set = kMountAttrIdmap;
  attr.attr_clr = 0;
  attr.propagation = 0;
  attr.userns_fd = (uint64_t)s->i[0];
  unsigned set_flags = kAtEmptyPath | ((s->i[1] & 2) ? kAtRecursive : 0);
  long r = NS_RAW5(SYS_mount_setattr, tree, "", set_flags, &attr, sizeof attr);
  // The detached tree takes the user namespace descriptor's number, without close-on-exec:
  // it must cross a reexec step to the move step.
  if (r >= 0) r = NS_RAW3(SYS_dup3, tree, s->i[0], 0);
  NS_RAW1(SYS_close, tree);
  return r < 0 ? r : 0;
}

// i[0]: the detached tree of the open step; s[0]: the staged target.
long ns_do_idmap_move(const ns_step* s) {
  long r = NS_RAW5(SYS_move_mount, s->i[0], "", AT_FDCWD, s->s[0], kMoveMountFEmptyPath);
  NS_RAW1(SYS_close, s->i[0]);
  return r;
}
