/*
 * vmbatch SPANK plugin for Slurm (22.05): every job runs inside its own virtual machine.
 *
 *   - registers the --vm-* options of sbatch, srun and salloc (and #SBATCH lines) and checks
 *     their syntax at submission, so a typo is refused before the job is queued;
 *   - runs PREFIX/slurm-hook slurm-prolog|slurm-epilog as root when the allocation starts and
 *     ends (slurmd's job prolog/epilog), which boot and destroy the job's guest;
 *   - makes every task (the batch script, srun's tasks, salloc's interactive step) start as
 *     PREFIX/slurm-task with the task's own arguments, which runs them in the guest as the user.
 *
 * plugstack.conf:  required /usr/lib/x86_64-linux-gnu/slurm-wlm/vmbatch.so [prefix=DIR]
 * Build:           gcc -Wall -Wextra -Werror -O2 -shared -fPIC -o vmbatch.so slurm/vmbatch_spank.c
 */
/* asprintf */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/spank.h>

SPANK_PLUGIN(vmbatch, 1);

#define DEFAULT_PREFIX "/usr/local/libexec/vmbatch"
#define MAX_VALUE 4096
/* how much of a refused value a message shows: the whole of a sane one, the start of a huge one */
#define MAX_SHOWN 200

static char prefix[PATH_MAX] = DEFAULT_PREFIX;

enum { OPT_DOMAIN, OPT_IMAGE, OPT_IMAGE_HASH, OPT_RTE, OPT_BASE, OPT_STAGE, OPT_CHANGES, OPT_SAVE_CHANGES, OPT_CHANGES_HASH, OPT_ROOT, OPT_COUNT };

static int option_cb(int val, const char *optarg, int remote);

/* the option table; `val` indexes it, and the prolog hands the options on in this order */
static struct spank_option vm_options[OPT_COUNT] = {
	{ "vm-domain", "NAME",
	  "vmbatch: run the job in a virtual machine of the domain template NAME (letters, digits, "
	  "'.', '_', '-'); default: the site's template",
	  1, OPT_DOMAIN, option_cb },
	{ "vm-image", "URL",
	  "vmbatch: boot the guest from your own image at URL (http:// or https://, where the site "
	  "allows it); give --vm-image-hash with it",
	  1, OPT_IMAGE, option_cb },
	{ "vm-image-hash", "ALGO:HEX",
	  "vmbatch: the digest of the --vm-image image: md5, sha1, sha256 or sha512, ':' and the "
	  "digest in hexadecimal (sha256sum IMAGE prints it)",
	  1, OPT_IMAGE_HASH, option_cb },
	{ "vm-rte", "NAME[+NAME...]",
	  "vmbatch: runtime environments from the site's catalogue to install in the guest, joined "
	  "by '+' (a '+' inside a name is written %2B)",
	  1, OPT_RTE, option_cb },
	{ "vm-base", "NAME",
	  "vmbatch: the base system the runtime environments must run on (a BaseSystem of the "
	  "catalogue, or one it provides)",
	  1, OPT_BASE, option_cb },
	{ "vm-stage", "yes|no",
	  "vmbatch: yes copies the working directory into the guest before the job and back after "
	  "it, instead of sharing it; no (the default) shares it",
	  1, OPT_STAGE, option_cb },
	{ "vm-changes", "NAME|URL",
	  "vmbatch: boot from your saved changes NAME (~/.vmbatch/changes/NAME.qcow2), or a layer at "
	  "an http(s) URL (with --vm-changes-hash), over the template's disk",
	  1, OPT_CHANGES, option_cb },
	{ "vm-save-changes", "NAME",
	  "vmbatch: after the job, save what it changed on the guest's disk as your layer NAME",
	  1, OPT_SAVE_CHANGES, option_cb },
	{ "vm-changes-hash", "ALGO:HEX",
	  "vmbatch: the digest of the --vm-changes URL's layer: md5, sha1, sha256 or sha512, ':' "
	  "and the digest in hexadecimal (sha256sum NAME.qcow2 prints it)",
	  1, OPT_CHANGES_HASH, option_cb },
	{ "vm-root", "yes|no",
	  "vmbatch: yes makes you root in your guest (sudo), where the site allows it (often only "
	  "with --vm-save-changes)",
	  1, OPT_ROOT, option_cb },
};

/* Writes VALUE into OUT (size n) with bytes outside printable ASCII and '\' as \xHH, cut short. */
static void escape(const char *value, char *out, size_t n)
{
	size_t o = 0, i;

	/* n >= 8 always: room for one escape, "..." and the NUL */
	for (i = 0; value[i] != '\0'; i++) {
		unsigned char c = (unsigned char)value[i];
		int w = (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;

		if (i >= MAX_SHOWN || o + w + 4 > n) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (w == 4)
			snprintf(out + o, 5, "\\x%02x", c);
		else
			out[o] = (char)c;
		o += w;
	}
	out[o] = '\0';
}

/* Whether C is a letter or a digit (ASCII only, whatever the locale). */
static int is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Whether C is a hexadecimal digit, in either case. */
static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Checks one runtime environment name (START, LEN bytes) of --vm-rte; a message, or NULL. */
static const char *check_rte_name(const char *start, size_t len, char *why, size_t n)
{
	size_t i, seg = 0;

	if (len == 0)
		return "has an empty name (two '+' in a row, or one at an end); join names with one '+', "
		       "e.g. --vm-rte=ENV/PYTHON-3+APPS/BIO/WEKA-3.4.10";
	for (i = 0; i < len; i++) {
		char c = start[i];

		/* %2B is how a name holding '+' is written, as in Torque's vbrte= */
		if (c == '%' && i + 2 < len && start[i + 1] == '2' &&
		    (start[i + 2] == 'B' || start[i + 2] == 'b')) {
			i += 2;
			continue;
		}
		if (!is_alnum(c) && c != '.' && c != '_' && c != '-' && c != '/') {
			char shown[8];

			if (c == ' ')
				snprintf(shown, sizeof shown, "' '");
			else if (c > 0x20 && c < 0x7f)
				snprintf(shown, sizeof shown, "'%c'", c);
			else
				snprintf(shown, sizeof shown, "0x%02x", (unsigned char)c);
			snprintf(why, n, "a name has the character %s; names are letters, digits, '.', "
				 "'_', '-' and '/' (a '+' inside a name is written %%2B), joined by '+'", shown);
			return why;
		}
	}
	/* names become directories in the guest: no empty, '.' or '..' path segment */
	for (i = 0; i <= len; i++) {
		if (i == len || start[i] == '/') {
			size_t sl = i - seg;

			if (sl == 0 || (sl == 1 && start[seg] == '.') ||
			    (sl == 2 && start[seg] == '.' && start[seg + 1] == '.')) {
				snprintf(why, n, "the name '%.*s' has an empty, '.' or '..' path segment; "
					 "write it as the catalogue does, e.g. APPS/BIO/WEKA-3.4.10",
					 (int)(len > 100 ? 100 : len), start);
				return why;
			}
			seg = i + 1;
		}
	}
	return NULL;
}

/* Checks the syntax of one option's value; the reason it is wrong (into WHY if built), or NULL. */
static const char *check_value(int opt, const char *v, char *why, size_t n)
{
	size_t len = strlen(v), i;

	if (len == 0)
		return "the value is empty; give one after '=', or leave the option out";
	if (len > MAX_VALUE) {
		snprintf(why, n, "the value is %zu bytes long, more than %d; give a shorter one", len,
			 MAX_VALUE);
		return why;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(why, n, "the value has a control character (byte 0x%02x); remove it", c);
			return why;
		}
	}

	switch (opt) {
	case OPT_DOMAIN:
		for (i = 0; i < len; i++)
			if (!is_alnum(v[i]) && v[i] != '.' && v[i] != '_' && v[i] != '-')
				return "must be a template name of letters, digits, '.', '_' or '-'; ask the "
				       "site which templates it offers, e.g. --vm-domain=debian12";
		return NULL;
	case OPT_CHANGES:
		/* a layer at a URL: the root side checks it against the site's user image policy */
		if (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0)
			return NULL;
		/* otherwise a name, as --vm-save-changes */
		/* fall through */
	case OPT_SAVE_CHANGES:
		if (len == 0 || len > 64 || !is_alnum(v[0]))
			return "must be a name of 1 to 64 letters, digits, '.', '_' or '-', starting with a "
			       "letter or digit, e.g. --vm-save-changes=tools";
		for (i = 0; i < len; i++)
			if (!is_alnum(v[i]) && v[i] != '.' && v[i] != '_' && v[i] != '-')
				return "must be a name of letters, digits, '.', '_' or '-', e.g. "
				       "--vm-save-changes=tools";
		return NULL;
	case OPT_STAGE:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return "must be yes (copy the working directory in and out) or no (share it); "
			       "write --vm-stage=yes or --vm-stage=no";
		return NULL;
	case OPT_ROOT:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return "must be yes (you may use sudo in your guest) or no; write --vm-root=yes";
		return NULL;
	case OPT_IMAGE_HASH:
	case OPT_CHANGES_HASH: {
		static const struct { const char *algo; size_t digits; } algos[] = {
			{ "md5", 32 }, { "sha1", 40 }, { "sha256", 64 }, { "sha512", 128 },
		};
		const char *colon = strchr(v, ':');
		size_t a;

		if (colon == NULL) {
			snprintf(why, n, "must be ALGO:HEX, ALGO one of md5, sha1, sha256, sha512 and HEX the "
				 "image's digest, e.g. --%s=sha256:$(sha256sum IMAGE | cut -d' ' -f1)",
				 vm_options[opt].name);
			return why;
		}
		for (a = 0; a < sizeof algos / sizeof algos[0]; a++)
			if (strlen(algos[a].algo) == (size_t)(colon - v) &&
			    strncmp(v, algos[a].algo, colon - v) == 0)
				break;
		if (a == sizeof algos / sizeof algos[0]) {
			snprintf(why, n, "the algorithm before ':' must be md5, sha1, sha256 or sha512 (lower "
				 "case), e.g. --%s=sha256:HEX", vm_options[opt].name);
			return why;
		}
		for (i = 0; colon[1 + i] != '\0'; i++)
			if (!is_hex(colon[1 + i]))
				break;
		if (colon[1 + i] != '\0' || i != algos[a].digits) {
			if (colon[1 + i] != '\0')
				snprintf(why, n, "after '%s:' must come the %zu hexadecimal digits of the "
					 "digest (%ssum IMAGE prints them); this value has a character that "
					 "is not one", algos[a].algo, algos[a].digits, algos[a].algo);
			else
				snprintf(why, n, "after '%s:' must come the %zu hexadecimal digits of the "
					 "digest (%ssum IMAGE prints them); this value has %zu",
					 algos[a].algo, algos[a].digits, algos[a].algo, i);
			return why;
		}
		return NULL;
	}
	case OPT_RTE: {
		const char *start = v, *plus;

		for (;;) {
			const char *problem;

			plus = strchr(start, '+');
			problem = check_rte_name(start, plus ? (size_t)(plus - start) : strlen(start), why, n);
			if (problem)
				return problem;
			if (!plus)
				return NULL;
			start = plus + 1;
		}
	}
	default:
		/* --vm-image and --vm-base: the root side checks them against the site's policy and catalogue */
		return NULL;
	}
}

/* Option callback (submission, and again in slurmstepd): refuses a malformed value with one line. */
static int option_cb(int val, const char *optarg, int remote)
{
	char why[512], shown[MAX_SHOWN * 4 + 8];
	const char *problem;

	(void)remote;
	if (val < 0 || val >= OPT_COUNT)
		return -1;
	/* no state is kept: sbatch may call this again for a later value (script, then command
	 * line) and only the last value reaches the job, so each call checks only its own value */
	problem = check_value(val, optarg ? optarg : "", why, sizeof why);
	if (problem == NULL)
		return 0;
	escape(optarg ? optarg : "", shown, sizeof shown);
	slurm_error("vmbatch: --%s=%s: %s", vm_options[val].name, shown, problem);
	return -1;
}

/* Reads the plugin's arguments (prefix=DIR); 0, or -1 with a message for a bad one. */
static int parse_args(int ac, char **av)
{
	int i;

	/* every callback gets the arguments: slurmd's prolog and epilog do not call
	 * slurm_spank_init first, so each entry point reads them itself */
	for (i = 0; i < ac; i++) {
		if (strncmp(av[i], "prefix=", 7) == 0) {
			const char *dir = av[i] + 7;

			/* the prolog runs DIR/slurm-hook as root: a relative path would depend on slurmd's cwd */
			if (dir[0] != '/' || strlen(dir) + sizeof "/slurm-hook" > sizeof prefix) {
				slurm_error("vmbatch: plugstack.conf: prefix=%s must be an absolute directory path "
					    "(where `vmbatch install-hooks slurm` put slurm-hook and slurm-task); "
					    "fix the vmbatch.so line of plugstack.conf", dir);
				return -1;
			}
			snprintf(prefix, sizeof prefix, "%s", dir);
		} else {
			slurm_error("vmbatch: plugstack.conf: unknown argument '%s' to vmbatch.so; the only "
				    "argument is prefix=DIR (default %s); fix the vmbatch.so line of "
				    "plugstack.conf", av[i], DEFAULT_PREFIX);
			return -1;
		}
	}
	return 0;
}

/* Plugin start in every context: reads prefix=DIR and registers the options where they apply. */
int slurm_spank_init(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();
	int i;

	if (parse_args(ac, av) < 0)
		return -1;
	if (ctx != S_CTX_ALLOCATOR && ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE &&
	    ctx != S_CTX_JOB_SCRIPT)
		return 0;
	/* the exported spank_options[] table is not read by sbatch 22.05: register each option */
	for (i = 0; i < OPT_COUNT; i++) {
		spank_err_t rc = spank_option_register(sp, &vm_options[i]);

		if (rc != ESPANK_SUCCESS) {
			slurm_error("vmbatch: cannot register the option --%s: %s", vm_options[i].name,
				    spank_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* The job id for messages: from Slurm, else the prolog's environment, else 0. */
static uint32_t job_id(spank_t sp)
{
	uint32_t id = 0;
	const char *env;

	if (spank_get_item(sp, S_JOB_ID, &id) == ESPANK_SUCCESS)
		return id;
	env = getenv("SLURM_JOB_ID");
	return env ? (uint32_t)strtoul(env, NULL, 10) : 0;
}

/* Runs DIR/slurm-hook ARGV[1..] as root and waits; 0 when it exited 0, else -1 with a message. */
static int run_hook(spank_t sp, const char *what, char **argv)
{
	char hook[PATH_MAX + sizeof "/slurm-hook"];
	sigset_t all;
	pid_t pid;
	int status;

	snprintf(hook, sizeof hook, "%s/slurm-hook", prefix);
	argv[0] = hook;
	pid = fork();
	if (pid < 0) {
		slurm_error("vmbatch: the %s of job %u failed: cannot fork: %s", what, job_id(sp),
			    strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		/* the hook reads nothing; a terminal or socket of slurmd's must not reach it */
		if (fd >= 0 && fd != STDIN_FILENO) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		/* slurmd's script runner may block signals; the hook (Node) needs them as usual */
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		execv(hook, argv);
		/* 126 and 127 as a shell says it, and the parent reports the reason */
		fprintf(stderr, "vmbatch: cannot run %s: %s; an administrator must run "
			"vmbatch install-hooks slurm\n", hook, strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			slurm_error("vmbatch: the %s of job %u failed: waiting for %s: %s", what,
				    job_id(sp), hook, strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127) &&
	    access(hook, X_OK) != 0)
		slurm_error("vmbatch: the %s of job %u failed: %s cannot be run (%s); an administrator "
			    "must run vmbatch install-hooks slurm", what, job_id(sp), hook, strerror(errno));
	else if (WIFEXITED(status))
		slurm_error("vmbatch: the %s of job %u failed (exit %d); see vmbatch's log", what,
			    job_id(sp), WEXITSTATUS(status));
	else
		slurm_error("vmbatch: the %s of job %u failed (killed by signal %d); see vmbatch's log",
			    what, job_id(sp), WTERMSIG(status));
	/* -1 with the plugin `required` drains the node: the Node side exits 0 for a submitter's
	 * mistake (the job fails alone), so what is left is a fault of this node */
	return -1;
}

/* Job prolog (slurmd, root, when the allocation starts): boots the job's guest. */
int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
	char *argv[2 + OPT_COUNT + 1];
	char *owned[OPT_COUNT];
	int n = 0, k = 0, i, rc;

	if (parse_args(ac, av) < 0)
		return -1;
	argv[n++] = NULL; /* the hook's path, set by run_hook */
	argv[n++] = "slurm-prolog";
	for (i = 0; i < OPT_COUNT; i++) {
		char *value = NULL;

		/* only the options the job gave, each as one argv element --vm-NAME=VALUE */
		if (spank_option_getopt(sp, &vm_options[i], &value) != ESPANK_SUCCESS || value == NULL)
			continue;
		if (asprintf(&owned[k], "--%s=%s", vm_options[i].name, value) < 0) {
			slurm_error("vmbatch: the prolog of job %u failed: out of memory", job_id(sp));
			while (k > 0)
				free(owned[--k]);
			return -1;
		}
		argv[n++] = owned[k++];
	}
	argv[n] = NULL;
	rc = run_hook(sp, "prolog", argv);
	while (k > 0)
		free(owned[--k]);
	return rc;
}

/* Job epilog (slurmd, root, when the allocation ends): destroys the guest, cleans up. */
int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	char *argv[] = { NULL, "slurm-epilog", NULL };

	if (parse_args(ac, av) < 0)
		return -1;
	return run_hook(sp, "epilog", argv);
}

/* Task start (slurmstepd, as the user, just before the exec): the task runs DIR/slurm-task. */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	char task[PATH_MAX + sizeof "/slurm-task"], step[16], *copy;
	uint32_t stepid = 0;
	char **argv = NULL;
	int argc = 0;
	spank_err_t rc;

	if (parse_args(ac, av) < 0)
		return -1;
	snprintf(task, sizeof task, "%s/slurm-task", prefix);
	/* a task that cannot reach its guest must not run on the bare node: fail it here */
	if (access(task, X_OK) != 0) {
		slurm_error("vmbatch: cannot start the task of job %u in its virtual machine: %s cannot "
			    "be run by this user (%s); the task did not run. An administrator must run "
			    "vmbatch install-hooks slurm", job_id(sp), task, strerror(errno));
		return -1;
	}
	rc = spank_get_item(sp, S_JOB_ARGV, &argc, &argv);
	if (rc != ESPANK_SUCCESS || argc < 1 || argv == NULL || argv[0] == NULL) {
		slurm_error("vmbatch: cannot start the task of job %u in its virtual machine: Slurm gave "
			    "no command for it (%s); the task did not run", job_id(sp),
			    rc != ESPANK_SUCCESS ? spank_strerror(rc) : "empty argv");
		return -1;
	}
	if (spank_get_item(sp, S_JOB_STEPID, &stepid) != ESPANK_SUCCESS) {
		slurm_error("vmbatch: cannot start the task of job %u in its virtual machine: Slurm gave "
			    "no step id; the task did not run", job_id(sp));
		return -1;
	}
	snprintf(step, sizeof step, "%u", stepid);
	if (spank_setenv(sp, "VMBATCH_TASK_ARGV0", argv[0], 1) != ESPANK_SUCCESS ||
	    spank_setenv(sp, "VMBATCH_TASK_STEP", step, 1) != ESPANK_SUCCESS) {
		slurm_error("vmbatch: cannot start the task of job %u in its virtual machine: cannot set "
			    "its environment; the task did not run", job_id(sp));
		return -1;
	}
	/* S_JOB_ARGV is the task's own argv, which slurmstepd execve()s right after this hook
	 * (the PATH search is already done): swapping argv[0] keeps Slurm's exec path (user limits,
	 * environment, error reporting) and leaves argv[1..] as they are. The old string is
	 * Slurm's (xmalloc) and is not freed; the process is replaced at once anyway. */
	copy = strdup(task);
	if (copy == NULL) {
		slurm_error("vmbatch: cannot start the task of job %u: out of memory", job_id(sp));
		return -1;
	}
	argv[0] = copy;
	return 0;
}
