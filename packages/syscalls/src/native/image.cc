// ns-init's image in a sealed memfd: what the clone of Node execs (see init/init.h).
//
// The bytes are embedded in this addon at build time (init/embed.mjs). Sealed against
// writing, growing and shrinking, a container that reaches the file through /proc/PID/exe
// (or a kept O_PATH descriptor, or a `#!/proc/self/exe` script) can only run it; and it is no
// file of the host's. A fresh one for every spawn (13 KB, a few microseconds): the seals
// guard the bytes, but not the inode's mode, owner or ACL, which a container that reached it
// could change, so no container ever gets the file the next one is started from.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

extern "C" const unsigned char ns_init_image[];
extern "C" const unsigned long ns_init_image_size;

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

namespace ns {

namespace {

int MakeImage(std::string* what) {
  // MFD_EXEC: kernels with vm.memfd_noexec (6.3+) want executable memfds asked for.
  int fd = (int)syscall(SYS_memfd_create, "ns-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_memfd_create, "ns-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return *what = "memfd_create ns-init", -1;
  size_t done = 0;
  while (done < ns_init_image_size) {
    ssize_t n = write(fd, ns_init_image + done, ns_init_image_size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      return errno = e, *what = "write ns-init", -1;
    }
    done += (size_t)n;
  }
  int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  if (fchmod(fd, 0555) < 0 || (fcntl(fd, F_ADD_SEALS, seals | F_SEAL_EXEC) < 0 && (errno != EINVAL || fcntl(fd, F_ADD_SEALS, seals) < 0)) ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) < 0) {
    int e = errno;
    close(fd);
    return errno = e, *what = "seal ns-init", -1;
  }
  return fd;
}

}  // namespace

int InitImageFd(std::string* what) { return MakeImage(what); }

}  // namespace ns
