/* vb-sudo: the sudo of the vmbatch test guest (busybox has none), for a job with root in its
 * guest (vbroot=yes, docs/guest-contract.md). prolog.sh grants root by writing the line Debian's
 * sudo reads, `#UID ALL=(ALL:ALL) NOPASSWD: ALL`, into /etc/sudoers.d/vmbatch-root; this runs a
 * command as root for exactly the uids named there, and refuses everyone else, as sudo does a
 * user without a rule. Installed setuid root as /usr/bin/sudo. Usage: sudo [-n] COMMAND [ARG...] */
#include <grp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *rules = "/etc/sudoers.d/vmbatch-root";

/* Whether the rules file (root's, written by root alone) grants root to uid. */
static int granted(uid_t uid) {
  int fd = open(rules, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) { close(fd); return 0; }
  FILE *f = fdopen(fd, "r");
  if (!f) { close(fd); return 0; }
  char want[64], line[256];
  snprintf(want, sizeof want, "#%u ALL=(ALL:ALL) NOPASSWD: ALL\n", (unsigned)uid);
  int ok = 0;
  while (fgets(line, sizeof line, f)) if (strcmp(line, want) == 0) ok = 1;
  fclose(f);
  return ok;
}

int main(int argc, char **argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "-n") == 0) first++;
  if (first >= argc) { fprintf(stderr, "usage: sudo [-n] COMMAND [ARG...]\n"); return 1; }
  uid_t uid = getuid();
  if (!granted(uid)) {
    fprintf(stderr, "sudo: uid %u may not run commands as root here (no rule in %s)\n", (unsigned)uid, rules);
    return 1;
  }
  /* root's own identity and a fixed search path (sudo's secure_path), not the caller's */
  if (setgroups(0, NULL) != 0 || setgid(0) != 0 || setuid(0) != 0) { perror("sudo: cannot become root"); return 1; }
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  execvp(argv[first], argv + first);
  fprintf(stderr, "sudo: %s: command not found\n", argv[first]);
  return 1;
}
