// ns-init: the process's session keyring (keyrings(7)), as runc's libcontainer/keys.
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "init.h"


namespace {

constexpr long KEYCTL_JOIN_SESSION_KEYRING = 1;
constexpr long KEYCTL_SETPERM = 5;
constexpr long KEYCTL_DESCRIBE = 6;

// The permission field of a KEYCTL_DESCRIBE answer, "type;uid;gid;perm;description" with
// perm in hexadecimal; -1 when it is not there.
long long describe_perm(const char* d, long len) {
  int field = 0;
  long i = 0;
  for (; i < len && d[i] != 0 && field < 3; i++) {
    if (d[i] == ';') field++;
  }
  if (field != 3) return -1;
  long long perm = 0;
  int digits = 0;
  for (; i < len && d[i] != ';' && d[i] != 0; i++, digits++) {
    char ch = d[i];
    int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
    if (v < 0 || digits >= 8) return -1;
    perm = perm * 16 + v;
  }
  return digits == 0 ? -1 : perm;
}

}  // namespace

// s->s[0] the keyring's name; s->i[0] nonzero: then KEYCTL_SETPERM to
// (perm & s->i[1]) | s->i[2]. ENOSYS (a kernel without keys) is success, as in runc.
long ns_do_join_session_keyring(const ns_step* s) {
  long serial = NS_RAW2(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, s->s[0]);
  if (serial == -ENOSYS) return 0;
  if (serial < 0) return serial;
  if (s->i[0] == 0) return 0;
  char desc[512];
  long n = NS_RAW4(SYS_keyctl, KEYCTL_DESCRIBE, serial, desc, sizeof desc);
  if (n < 0) return n;
  // n is the whole description's size (with its NUL); a longer one is cut at the buffer.
  long long perm = describe_perm(desc, n < (long)sizeof desc ? n : (long)sizeof desc);
  if (perm < 0) return -EINVAL;
  unsigned long next = ((unsigned long)perm & (unsigned long)(uint32_t)s->i[1]) | (unsigned long)(uint32_t)s->i[2];
  return NS_RAW3(SYS_keyctl, KEYCTL_SETPERM, serial, next);
}
