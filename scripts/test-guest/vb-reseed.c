/* vb-reseed: the warm-start guest contract's reseed for the vmbatch test guest (busybox has no
 * ioctl). A guest restored from a saved state starts with the same kernel random state as every
 * other copy of that state; this mixes the job's seed (argument 1, from the host) into the
 * kernel's input pool and forces the kernel's generator to reseed from it at once
 * (RNDRESEEDCRNG), so two copies restored from one state never return the same random bytes. */
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) < 32) {
    fprintf(stderr, "usage: vb-reseed SEED (at least 32 characters from the host)\n");
    return 2;
  }
  int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  if (fd < 0) { perror("vb-reseed: /dev/urandom"); return 1; }
  size_t len = strlen(argv[1]);
  if (write(fd, argv[1], len) != (ssize_t)len) { perror("vb-reseed: write"); return 1; }
  if (ioctl(fd, RNDRESEEDCRNG) != 0) { perror("vb-reseed: RNDRESEEDCRNG"); return 1; }
  close(fd);
  return 0;
}
