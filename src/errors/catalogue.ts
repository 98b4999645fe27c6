// The one catalogue of vmbatch errors: a stable code, what went wrong and why, and what to do.
// `kind` decides the hook exit code: permanent errors abort the job (1), transient ones may
// requeue it (2) within the configured retry bound.

export type ErrorKind = 'permanent' | 'transient';

interface Entry<P> {
  kind: ErrorKind;
  message: (p: P) => string;
  hint: (p: P) => string;
}

const entry = <P>(e: Entry<P>): Entry<P> => e;

/** Every error vmbatch reports, by stable code. */
export const errorCatalogue = {
  CONFIG_UNREADABLE: entry<{ path: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `cannot read the vmbatch configuration ${p.path}: ${p.reason}`,
    hint: () => 'create it (see docs/admin.md, "Configuration") or point VMBATCH_CONFIG at the right file',
  }),
  CONFIG_INVALID: entry<{ path: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the vmbatch configuration ${p.path} is invalid:\n${bullets(p.problems)}`,
    hint: () => 'fix each setting listed; docs/admin.md lists every setting with its type and default',
  }),
  HOOK_ARGV_INVALID: entry<{ hook: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the ${p.hook} was called with invalid arguments:\n${bullets(p.problems)}`,
    hint: (p) => `the ${p.hook} must be called by pbs_mom as docs/admin.md describes; job ids and user or group names may not contain shell or path characters`,
  }),
  USAGE_INVALID: entry<{ problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the command line is invalid:\n${bullets(p.problems)}`,
    hint: () => '`vmbatch --help` lists the commands and their options',
  }),
  USER_UNKNOWN: entry<{ user: string }>({
    kind: 'permanent',
    message: (p) => `the job's user '${p.user}' is not known on this node (getent passwd found nothing)`,
    hint: () => 'make the user known on the compute node (NSS/LDAP) before jobs of this user run here',
  }),
  RESOURCE_INVALID: entry<{ problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the job's vmbatch resource request is invalid:\n${bullets(p.problems)}`,
    hint: () => "request vmbatch settings as qsub -l other=vbdomain=NAME; several settings are joined with ':' (docs/submitters.md)",
  }),
  JOB_SIZE_INVALID: entry<{ problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the job's CPU and memory request is invalid:\n${bullets(p.problems)}`,
    hint: () => 'ask for the CPUs and memory of one guest, e.g. qsub -l nodes=1:ppn=2,mem=2gb (docs/submitters.md, "The guest\'s size")',
  }),
  JOB_SIZE_TOO_LARGE: entry<{ template: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the job asks for a larger guest than the domain template ${p.template} allows:\n${bullets(p.problems)}`,
    hint: () =>
      'ask for no more than the limits above (qsub -l nodes=1:ppn=P,mem=SIZE), or for a template that allows more (qsub -l other=vbdomain=NAME; sbatch --vm-domain=NAME; docs/submitters.md, "The guest\'s size")',
  }),
  USER_IMAGE_REFUSED: entry<{ image: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the guest image '${p.image}' requested with vbuserimage (Slurm: --vm-image) is refused: ${p.reason}`,
    hint: () => 'request an image the site allows (`vmbatch images policy` prints its rules; docs/submitters.md), or submit without vbuserimage (--vm-image under Slurm)',
  }),
  USER_IMAGE_POLICY_INVALID: entry<{ path: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the user image policy ${p.path} is invalid:\n${bullets(p.problems)}`,
    hint: () => 'fix each entry listed (docs/admin.md, "Images chosen by submitters"); until then no submitter image is accepted',
  }),
  IMAGE_SOURCE_REFUSED: entry<{ source: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the image source '${p.source}' is refused: ${p.reason}`,
    hint: () => "give an http:// or https:// URL, or a path relative to images.siteBase without '..' (docs/domain-templates.md, <vbdisksource>)",
  }),
  TAR_MISSING: entry<{ tarfile: string; path: string }>({
    kind: 'permanent',
    message: (p) => `the tar file '${p.tarfile}' of the template cannot be read at ${p.path}`,
    hint: () => 'put it into contextFilesDir (or give an absolute path in <vbtarfile tarfile=...>)',
  }),
  TAR_UNSAFE: entry<{ path: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the tar file ${p.path} cannot be unpacked safely:\n${bullets(p.problems)}`,
    hint: () => 'rebuild it as a plain or gzip tar with relative paths only (tar -C DIR -czf FILE .), without links that leave it or lead into it',
  }),
  DOWNLOAD_HTTP_STATUS: entry<{ url: string; status: number; statusText: string }>({
    kind: 'permanent',
    message: (p) => `downloading ${p.url} failed: the server answered ${p.status} ${p.statusText}`,
    hint: () => 'check the URL in the template (or in vbuserimage); `curl -I URL` shows what the server says',
  }),
  DOWNLOAD_SERVER_ERROR: entry<{ url: string; status: number; statusText: string }>({
    kind: 'transient',
    message: (p) => `downloading ${p.url} failed: the server answered ${p.status} ${p.statusText}`,
    hint: () => 'the image server has a problem; the job is requeued up to maxAttempts times',
  }),
  DOWNLOAD_FAILED: entry<{ url: string; reason: string }>({
    kind: 'transient',
    message: (p) => `downloading ${p.url} failed: ${p.reason}`,
    hint: () => 'check that the image server is reachable from this node; the job is requeued up to maxAttempts times',
  }),
  DOWNLOAD_INCOMPLETE: entry<{ url: string; got: number; expected: number | undefined; reason: string }>({
    kind: 'transient',
    message: (p) => `downloading ${p.url} failed: ${p.reason} after ${p.got} of ${p.expected ?? 'an unknown number of'} bytes`,
    hint: () => 'nothing of the partial download is kept; the job is requeued up to maxAttempts times',
  }),
  DOWNLOAD_STALLED: entry<{ url: string; seconds: number; got: number }>({
    kind: 'transient',
    message: (p) => `downloading ${p.url} failed: no data for ${p.seconds} s (after ${p.got} bytes)`,
    hint: () => 'the image server or the network stalls; raise images.stallTimeoutSeconds for slow links',
  }),
  DOWNLOAD_DEADLINE: entry<{ url: string; seconds: number; got: number }>({
    kind: 'transient',
    message: (p) => `downloading ${p.url} did not finish within the prologue's budget (${p.got} bytes in ${p.seconds} s)`,
    hint: () => 'put large images into the cache before jobs need them (`vmbatch images fetch URL`), or raise prologueBudgetSeconds',
  }),
  DOWNLOAD_REDIRECT_LOOP: entry<{ url: string; chain: string[]; reason: string }>({
    kind: 'permanent',
    message: (p) => `downloading ${p.url} failed: ${p.reason}:\n${bullets(p.chain)}`,
    hint: () => 'fix the redirects on the image server, or put the final URL in the template',
  }),
  DOWNLOAD_MIRRORS_FAILED: entry<{ url: string; failures: string[] }>({
    kind: 'transient',
    message: (p) => everyUrlFailed(p),
    hint: () => 'at least one of the servers may recover; the job is requeued up to maxAttempts times. Fix or drop the URLs that are wrong',
  }),
  DOWNLOAD_MIRRORS_REFUSED: entry<{ url: string; failures: string[] }>({
    kind: 'permanent',
    message: (p) => everyUrlFailed(p),
    hint: () => 'every server refused the file; fix the URLs in the catalogue (`curl -I URL` shows what each server says)',
  }),
  IMAGE_HASH_MISMATCH: entry<{ url: string; algorithm: string; expected: string; actual: string }>({
    kind: 'permanent',
    message: (p) => `the image ${p.url} does not match its ${p.algorithm} hash: expected ${p.expected}, got ${p.actual}`,
    hint: () => 'the image changed or was damaged on the way; nothing was kept. Fix <vbcheckhash hashvalue=...> if the image was updated on purpose',
  }),
  IMAGE_TOO_LARGE: entry<{ url: string; limit: number; size: number | string }>({
    kind: 'permanent',
    message: (p) => `the image ${p.url} is larger than the ${p.limit} MiB the site allows (${typeof p.size === 'number' ? `${p.size} bytes` : p.size})`,
    hint: () => 'use a smaller image, or ask the site to raise maxSizeMiB in its user image policy',
  }),
  DISK_FULL: entry<{ path: string; reason: string }>({
    kind: 'transient',
    message: (p) => `no space for ${p.path}: ${p.reason}`,
    hint: () => 'free space in the image cache (`vmbatch images prune --max-size SIZE`) or give images.cacheDir a larger filesystem',
  }),
  IMAGE_HAS_BACKING_FILE: entry<{ url: string; backing: string }>({
    kind: 'permanent',
    message: (p) => `the image ${p.url} has a backing file (${p.backing}) and cannot be used as a base image`,
    hint: () => 'flatten it first (`qemu-img convert -O qcow2 IN OUT`); a base image must be self-contained',
  }),
  IMAGE_REFERENCES_OUTSIDE: entry<{ url: string; what: string }>({
    kind: 'permanent',
    message: (p) => `the image ${p.url} names ${p.what} and is refused: the guest and root's tools would open that host file with their rights`,
    hint: () => 'make it self-contained (`qemu-img convert -O qcow2 IN OUT` where the data is yours); a base image may point at no other file',
  }),
  IMAGE_UNCHECKABLE: entry<{ url: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the image ${p.url} cannot be checked safely and is refused: ${p.reason}`,
    hint: () => 'convert it to a self-contained qcow2 or raw image (`qemu-img convert -O qcow2 IN OUT`)',
  }),
  IMAGE_VIRTUAL_SIZE_TOO_LARGE: entry<{ url: string; size: number; limit: number }>({
    kind: 'permanent',
    message: (p) => `the image ${p.url} has a virtual size of ${p.size} bytes, more than the ${p.limit} MiB the site allows`,
    hint: () => 'use an image with a smaller virtual disk, or ask the site to raise maxVirtualSizeMiB (user image policy) or images.maxVirtualSizeMiB (template images)',
  }),
  IMAGE_FORMAT_MISMATCH: entry<{ url: string; declared: string; actual: string }>({
    kind: 'permanent',
    message: (p) => `the image ${p.url} is ${p.actual}, but the template declares <driver type='${p.declared}'/>`,
    hint: () => "make <driver type=...> match the image's format (`qemu-img info FILE` tells it)",
  }),
  FORMAT_UNSUPPORTED: entry<{ target: string; what: string }>({
    kind: 'permanent',
    message: (p) => `disk ${p.target}: ${p.what}`,
    hint: () => 'docs/domain-templates.md lists the formats and copy-on-write per hypervisor',
  }),
  CACHE_LOCK_TIMEOUT: entry<{ path: string; seconds: number; holder: string }>({
    kind: 'transient',
    message: (p) => `waited ${p.seconds} s for the image cache lock ${p.path}, held by ${p.holder}`,
    hint: () => 'another job is still preparing this image; the job is requeued. `vmbatch images list` shows the cache',
  }),
  DOMAIN_NOT_FOUND: entry<{ name: string; dir: string; available: string[] }>({
    kind: 'permanent',
    message: (p) => `no domain template '${p.name}' in ${p.dir}` + (p.available.length ? ` (available: ${p.available.join(', ')})` : ' (the directory holds no templates)'),
    hint: () => 'request one of the available templates (qsub -l other=vbdomain=NAME; sbatch --vm-domain=NAME), or ask the site admin to add it',
  }),
  DOMAIN_XML_MALFORMED: entry<{ file: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `domain template ${p.file} is not well-formed XML:\n${bullets(p.problems)}`,
    hint: () => 'fix the XML at each position (`xmllint --noout FILE` shows the same places); `vmbatch validate FILE` checks a template without running a job',
  }),
  DOMAIN_TEMPLATE_INVALID: entry<{ file: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `domain template ${p.file} is invalid:\n${bullets(p.problems)}`,
    hint: () => 'docs/domain-templates.md lists every vb* tag, where it may stand and its attributes',
  }),
  BASE_IMAGE_MISSING: entry<{ target: string; path: string }>({
    kind: 'permanent',
    message: (p) => `the base image of disk ${p.target}, ${p.path}, does not exist`,
    hint: () => 'install the image at that path (for the test guest: make guest) or fix <source file=...> in the template',
  }),
  TOOL_MISSING: entry<{ tool: string; pkg: string }>({
    kind: 'permanent',
    message: (p) => `the tool '${p.tool}' is not installed on this node`,
    hint: (p) => `install the Debian package ${p.pkg} (scripts/install-deps.sh installs everything vmbatch needs)`,
  }),
  TOOL_FAILED: entry<{ argv: string[]; exitCode: number | string; stderr: string }>({
    kind: 'permanent',
    message: (p) => `${p.argv.join(' ')} failed with ${describeExit(p.exitCode)}${p.stderr ? `: ${p.stderr.trim()}` : ''}`,
    hint: () => "the message above is the tool's own; fix what it names, then run the job again",
  }),
  LIBVIRT_UNREACHABLE: entry<{ uri: string; stderr: string }>({
    kind: 'transient',
    message: (p) => `libvirt at ${p.uri} does not answer: ${p.stderr.trim()}`,
    hint: () => 'start libvirtd (scripts/start-libvirt.sh where no service manager runs it) and check `virsh -c URI version`',
  }),
  DOMAIN_CREATE_FAILED: entry<{ domain: string; stderr: string }>({
    kind: 'permanent',
    message: (p) => `libvirt refused to start ${p.domain}: ${p.stderr.trim()}`,
    hint: () => '`vmbatch plan` prints the domain XML vmbatch hands to virsh; check it against the libvirt message',
  }),
  ADDRESSES_EXHAUSTED: entry<{ pool: string }>({
    kind: 'transient',
    message: (p) => `no free static address for the guest: every address of this node's pool (${p.pool}) is taken by a running job`,
    hint: () => 'the job is requeued; give network.addresses (or network.count) more addresses, or run fewer jobs on this node at once',
  }),
  GUEST_UIDS_EXHAUSTED: entry<{ first: number; last: number }>({
    kind: 'transient',
    message: (p) => `no free uid for the guest's qemu: every uid of this node's pool (${p.first}-${p.last}) is taken by a running job`,
    hint: () => 'the job is requeued; widen guestIdentity.uids in the configuration, or run fewer jobs on this node at once',
  }),
  GUEST_GROUP_UNUSABLE: entry<{ group: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the guests' group '${p.group}' (guestIdentity.group) cannot be used: ${p.reason}`,
    hint: () => 'set guestIdentity.group to an existing group that is not root\'s, e.g. libvirt-qemu (docs/admin.md, "Guest identity")',
  }),
  PARTITION_NOT_FOUND: entry<{ dev: string; partition: string; found: string[] }>({
    kind: 'permanent',
    message: (p) =>
      `disk ${p.dev} has no partition ${p.partition}` + (p.found.length ? ` (its partitions: ${p.found.join(', ')})` : ' (it has no partition table vmbatch can read: MBR primary or GPT)'),
    hint: () => 'fix <vbdisk partition=...> to name a partition of the image (`sfdisk -d IMAGE` lists them)',
  }),
  PARTITION_TABLE_INVALID: entry<{ dev: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the partition table of disk ${p.dev} is invalid; nothing was written into it:\n${bullets(p.problems)}`,
    hint: () => 'DISK contextualization needs a valid MBR or GPT within the disk (`sfdisk --verify IMAGE` or `sgdisk --verify IMAGE` checks it); repair or rebuild the image',
  }),
  DISK_CONTEXT_FAILED: entry<{ partition: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `cannot write the job's context into ${p.partition}: ${p.reason}`,
    hint: () => 'DISK contextualization writes into ext2/3/4 partitions of a per-job copy-on-write disk (docs/domain-templates.md, <vbdisks>)',
  }),
  ROOT_SSH_REFUSED: entry<{ target: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the guest refused the root login ${p.target}: ${p.reason}`,
    hint: () => "the image must accept rootSsh.privateKeyFile's key for root and present a host key listed in rootSsh.hostKeysFile",
  }),
  ROOT_SSH_KEYS_INVALID: entry<{ file: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the ROOTSSH key file ${p.file} cannot be used: ${p.reason}`,
    hint: () => 'rootSsh.privateKeyFile: an unencrypted OpenSSH private key; rootSsh.hostKeysFile: OpenSSH public key lines (docs/admin.md)',
  }),
  ROOT_SSH_FAILED: entry<{ target: string; seconds: number; reason: string }>({
    kind: 'transient',
    message: (p) => `cannot log in to the guest as ${p.target} within ${p.seconds} s: ${p.reason}`,
    hint: () => "ROOTSSH needs an image that runs an SSH server accepting rootSsh.privateKeyFile's key and presenting a host key listed in rootSsh.hostKeysFile (docs/guest-contract.md)",
  }),
  GUEST_NOT_READY: entry<{ domain: string; seconds: number; consoleTail: string }>({
    kind: 'transient',
    message: (p) => `guest ${p.domain} did not report ready within ${p.seconds} s` + (p.consoleTail ? `; last console lines:\n${indent(p.consoleTail)}` : ' and printed nothing on its console'),
    hint: () =>
      'check that the image meets the guest contract (docs/guest-contract.md): it must run prolog.sh from the context volume, which reports readiness on the console; raise readinessTimeoutSeconds for slow guests',
  }),
  GUEST_PROLOG_FAILED: entry<{ domain: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the guest-side prolog of ${p.domain} failed: ${p.reason}`,
    hint: () => 'the guest could not be prepared for this job; docs/guest-contract.md says what the guest needs',
  }),
  GUEST_PROLOG_TIMEOUT: entry<{ domain: string; seconds: number; stderrTail: string }>({
    kind: 'transient',
    message: (p) =>
      `the guest-side prolog of ${p.domain} (run over ROOTSSH) did not finish within ${p.seconds} s` +
      (p.stderrTail ? `; last lines of its stderr:\n${indent(p.stderrTail)}` : ' and wrote nothing on stderr'),
    hint: () =>
      "as for a guest that does not report ready: a slow node or a step of prolog.sh that waits (a runtime environment's control/install); raise readinessTimeoutSeconds for slow guests (docs/guest-contract.md)",
  }),
  GUEST_STOPPED: entry<{ domain: string; consoleTail: string }>({
    kind: 'transient',
    message: (p) => `guest ${p.domain} stopped before it was ready` + (p.consoleTail ? `; last console lines:\n${indent(p.consoleTail)}` : ''),
    hint: () => 'the guest crashed or powered off while booting; the console lines above usually say why',
  }),
  BUDGET_EXCEEDED: entry<{ seconds: number }>({
    kind: 'transient',
    message: (p) => `the prologue used up its budget of ${p.seconds} s before the guest was ready`,
    hint: () => 'keep prologueBudgetSeconds below pbs_mom $prologalarm (300 s by default) and check why the node is slow',
  }),
  RETRIES_EXHAUSTED: entry<{ attempts: number; last: string }>({
    kind: 'permanent',
    message: (p) => `gave up after ${p.attempts} attempts; the last one failed with: ${p.last}`,
    hint: () => 'the failure was expected to pass but did not; an administrator should check the node',
  }),
  NOT_ROOT: entry<{ hook: string }>({
    kind: 'permanent',
    message: (p) => `the ${p.hook} must run as root, as pbs_mom runs it`,
    hint: () => 'install it as mom_priv/prologue and mom_priv/epilogue with `vmbatch install-hooks torque` (owned by root, mode 0500)',
  }),
  WARM_NOT_ENABLED: entry<{ template: string }>({
    kind: 'permanent',
    message: (p) => `the domain template ${p.template} does not ask for warm start`,
    hint: () => 'add <vbwarmstart/> to its <vbconfig> (docs/admin.md, "Warm start"), check it with `vmbatch validate`, then build again',
  }),
  WARM_BUILD_FAILED: entry<{ template: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `no saved state was made for ${p.template}: ${p.reason}`,
    hint: () => 'jobs of the template boot as before; fix what the message names and run `vmbatch warm build TEMPLATE` again (the guest contract for warm start is in docs/guest-contract.md)',
  }),
  WARM_STATE_UNUSABLE: entry<{ path: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the saved state ${p.path} cannot be used: ${p.reason}`,
    hint: () => '`vmbatch warm build TEMPLATE --force` makes it again',
  }),
  WARM_RESTORE_FAILED: entry<{ domain: string; reason: string }>({
    kind: 'transient',
    message: (p) => `${p.domain} could not be started from its saved state: ${p.reason}`,
    hint: () => 'the job boots its guest instead; `vmbatch warm list` shows whether the state is stale, `vmbatch warm build TEMPLATE --force` makes it again',
  }),
  WARM_NOT_FOUND: entry<{ what: string }>({
    kind: 'permanent',
    message: (p) => `no saved state matches ${p.what}`,
    hint: () => '`vmbatch warm list` shows the saved states, each with its template and key',
  }),
  CHANGES_NOT_ALLOWED: entry<{ template: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the domain template ${p.template} does not allow saved changes (vbchanges, vbsavechanges): ${p.reason}`,
    hint: () => 'submit without them, or with a template the site allows them for (its configuration\'s changes.templates; docs/submitters.md, "Your own changes")',
  }),
  CHANGES_NOT_FOUND: entry<{ name: string; file: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `your saved changes '${p.name}' cannot be read at ${p.file}: ${p.reason}`,
    hint: () => '`vmbatch changes list` shows yours; a job submitted with -l other=vbsavechanges=NAME saves them',
  }),
  CHANGES_REFUSED: entry<{ name: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `your saved changes '${p.name}' are refused: ${p.reason}`,
    hint: () => 'save them again from a job of this template (-l other=vbsavechanges=NAME); `vmbatch changes info NAME` shows what they were made from',
  }),
  GUEST_ROOT_NOT_ALLOWED: entry<{ reason: string }>({
    kind: 'permanent',
    message: (p) => `root in your guest (vbroot=yes) is not allowed on this node: ${p.reason}`,
    hint: (p) =>
      p.reason.startsWith('only a job')
        ? 'submit it with -l other=vbroot=yes:vbsavechanges=NAME to prepare your changes as root, then run your jobs from them (vbchanges=NAME) without vbroot'
        : "submit without vbroot; software you need as root can come from the site's catalogue (vbrte) or your own image (vbuserimage), where the site allows them",
  }),
  INSTALL_REFUSED: entry<{ problems: string[] }>({
    kind: 'permanent',
    message: (p) => `install-hooks changed nothing: these files are not vmbatch's to replace:\n${bullets(p.problems)}`,
    hint: () =>
      "look at each: move it away or merge what it does into the site's own setup, then run install-hooks again; --force replaces them and keeps each old file beside it as NAME.vmbatch-saved",
  }),
  SLURM_PLUGIN_MISSING: entry<{ path: string }>({
    kind: 'permanent',
    message: (p) => `the vmbatch SPANK plugin ${p.path} does not exist: slurmd would run jobs on the node itself`,
    hint: () => 'install the vmbatch-slurm package (make deb builds it beside vmbatch), or build the plugin from a checkout (make install-slurm); --plugin FILE names it where it is',
  }),
  INSTALL_TARGET_MISSING: entry<{ what: string; path: string; option: string }>({
    kind: 'permanent',
    message: (p) => `${p.path} is not a directory, so it cannot be ${p.what}`,
    hint: (p) => `name the right directory with ${p.option} DIR, or create it first`,
  }),
  JOB_NOT_PREPARED: entry<{ jobId: string; stateDir: string }>({
    kind: 'permanent',
    message: (p) => `job ${p.jobId} has no prepared guest (nothing in ${p.stateDir})`,
    hint: () => "remoteshell runs only after the vmbatch prologue prepared the job; check that mom_priv/prologue is vmbatch's (under Slurm: that plugstack.conf names vmbatch.so, docs/slurm.md)",
  }),
  JOB_NOT_OWNED: entry<{ jobId: string; user: string; uid: number }>({
    kind: 'permanent',
    message: (p) => `job ${p.jobId} belongs to ${p.user}, not to uid ${p.uid}: only its submitter reaches its guest`,
    hint: () => "remoteshell runs as the job's submitter (pbs_mom's $job_starter does so); the job's SSH socket and key are theirs alone",
  }),
  VM_OPTION_INVALID: entry<{ problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the job's --vm-* options are invalid:\n${bullets(p.problems)}`,
    hint: () => 'fix each option listed and submit again; `sbatch --help` lists the --vm-* options and docs/slurm.md describes them',
  }),
  SLURM_ENVIRONMENT_INVALID: entry<{ hook: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the Slurm ${p.hook} cannot tell which job it serves:\n${bullets(p.problems)}`,
    hint: (p) =>
      p.hook === 'task'
        ? 'vmbatch-slurm-task is meant to be started by the vmbatch SPANK plugin inside a Slurm job step (docs/slurm.md)'
        : `the ${p.hook} must be run by slurmd through the vmbatch SPANK plugin (docs/slurm.md); slurmd sets these variables`,
  }),
  SLURM_COMMAND_FAILED: entry<{ argv: string[]; exitCode: number | string; stderr: string }>({
    kind: 'transient',
    message: (p) => `${p.argv.join(' ')} failed (exit ${p.exitCode}): ${p.stderr.trim().split('\n').slice(-3).join(' / ') || 'no message'}`,
    hint: () => 'check that slurmctld answers on this node (`scontrol ping`) and see its log',
  }),
  SLURM_START_UNPREPARED: entry<{ jobId: string; restarts: number }>({
    kind: 'transient',
    message: (p) => `job ${p.jobId} has no guest on this node: Slurm started it again (restart ${p.restarts}) and slurmd ran no vmbatch prolog for this start`,
    hint: () =>
      'slurmd skips the prolog when a requeued job starts again before the epilog of its previous start has ended; vmbatch asks Slurm to requeue the job. If every job says this, plugstack.conf does not name vmbatch.so (docs/slurm.md)',
  }),
  SLURM_REQUEUE_REFUSED: entry<{ jobId: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `job ${p.jobId} could not be requeued: ${p.reason}`,
    hint: () => 'submit the job again (a job submitted with --no-requeue, or on a cluster with JobRequeue=0, is not requeued after a failed start)',
  }),
  JOB_ID_MISSING: entry<Record<string, never>>({
    kind: 'permanent',
    message: () => 'remoteshell cannot tell which job it runs: PBS_JOBID is not set',
    hint: () => "remoteshell is meant to be pbs_mom's $job_starter, which sets PBS_JOBID",
  }),
  SSH_FAILED: entry<{ target: string; reason: string }>({
    kind: 'transient',
    message: (p) => `cannot reach the job's guest over SSH at ${p.target}: ${p.reason}`,
    hint: () => 'the guest may have stopped; `virsh list` shows whether vmbatch-JOBID still runs',
  }),
  CONSOLE_FAILED: entry<{ socket: string; reason: string }>({
    kind: 'transient',
    message: (p) => `cannot run the job on the guest's login console ${p.socket}: ${p.reason}`,
    hint: () => "console remoteshell needs the guest to log the user in on the template's <vbremoteshell device> (docs/guest-contract.md)",
  }),
  JOB_SCRIPT_UNREADABLE: entry<{ path: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the job script ${p.path} that pbs_mom names cannot be used: ${p.reason}`,
    hint: () => 'pbs_mom writes the job script itself; resubmit the job, and if it happens again report it to the site admin',
  }),
  JOB_FAILED_BY_PROLOGUE: entry<{ jobId: string; code: string }>({
    kind: 'permanent',
    message: (p) => `job ${p.jobId} did not run: its prologue failed it with ${p.code}`,
    hint: () => "the prologue's message above (and vmbatch-JOBID.err in the working directory) says what was wrong and what to change before resubmitting",
  }),
  GUEST_LOST: entry<{ jobId: string; domain: string; what: string }>({
    kind: 'permanent',
    message: (p) => `job ${p.jobId} lost its guest ${p.domain} while it ran: ${p.what}`,
    hint: () => "the node's epilogue adds libvirt's reason and the guest's last console lines below; a guest that ran out of memory needs a larger request (-l mem=...)",
  }),
  JOB_SCRIPT_MISMATCH: entry<{ path: string; expected: string }>({
    kind: 'permanent',
    message: (p) => `remoteshell was asked to run ${p.path}, but this job's script is ${p.expected}`,
    hint: () => 'remoteshell runs the job script that the prologue installed in the guest; report this to the site admin',
  }),
  WORKDIR_INVALID: entry<{ path: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the job's working directory '${p.path}' cannot be given to its guest: ${p.reason}`,
    hint: () => 'submit the job from a directory of yours, e.g. cd ~/myjob && qsub job.sh (docs/submitters.md, "Your files in the guest")',
  }),
  SHARE_UNAVAILABLE: entry<{ path: string; user: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the directory ${p.path} cannot be shared with the guest as ${p.user}: ${p.reason}`,
    hint: (p) => `check that ${p.user} can enter ${p.path} on the node (ls -ld ${p.path}); or ask for staging instead: qsub -l other=vbstage=yes (sbatch --vm-stage=yes)`,
  }),
  SHARE_NOT_ALLOWED: entry<{ template: string; path: string; allowed: string[] }>({
    kind: 'permanent',
    message: (p) => `domain template ${p.template} shares ${p.path}, which the site does not allow (shares.allowedPaths: ${p.allowed.length ? p.allowed.join(', ') : 'none'})`,
    hint: () => 'add the directory to shares.allowedPaths in /etc/vmbatch/vmbatch.json, or remove the <vbshare> from the template (docs/admin.md, "Shared directories")',
  }),
  SHARE_REFUSED: entry<{ problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the job's directories cannot be given to its guest as asked:\n${bullets(p.problems)}`,
    hint: () => 'docs/submitters.md, "Your files in the guest", says which directories are shared or staged and how to ask for staging',
  }),
  SHARE_DAEMON_FAILED: entry<{ path: string; reason: string }>({
    kind: 'transient',
    message: (p) => `the file server for the shared directory ${p.path} did not start: ${p.reason}`,
    hint: () => 'check that virtiofsd is installed (qemu-system-common, /usr/lib/qemu/virtiofsd) and that user namespaces are enabled (user.max_user_namespaces > 0); the job is requeued',
  }),
  STAGE_FAILED: entry<{ direction: 'in' | 'out'; dir: string; reason: string }>({
    kind: 'permanent',
    message: (p) =>
      p.direction === 'in'
        ? `the working directory ${p.dir} was not copied wholly into the guest: ${p.reason}; the job runs with what was copied`
        : `the working directory ${p.dir} was not copied wholly back from the guest: ${p.reason}; what was copied back is kept`,
    hint: () => 'the job\'s exit status is its own; docs/submitters.md, "Staged working directory", says what is copied in and back',
  }),
  CATALOGUE_NONE: entry<{ rtes: string[] }>({
    kind: 'permanent',
    message: (p) => `the job asks for runtime environments (${p.rtes.join(', ')}), but this node has no software catalogue`,
    hint: () => 'submit without vbrte (--vm-rte under Slurm), or ask the site to list its catalogues in catalogue.sources (docs/catalogue.md)',
  }),
  CATALOGUE_XML_INVALID: entry<{ source: string; line: number; column: number; reason: string }>({
    kind: 'permanent',
    message: (p) => `the software catalogue ${p.source} is not well-formed XML (line ${p.line}, column ${p.column}): ${p.reason}`,
    hint: () => 'fix the catalogue file (`xmllint --noout FILE` shows the same place); until then no job can use it',
  }),
  CATALOGUE_INVALID: entry<{ source: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the software catalogue ${p.source} is invalid:\n${bullets(p.problems)}`,
    hint: () => 'fix each element listed (docs/catalogue.md describes every kb: element); `vmbatch catalogue list` checks a catalogue',
  }),
  CATALOGUE_UNAVAILABLE: entry<{ source: string; reason: string }>({
    kind: 'transient',
    message: (p) => `the software catalogue ${p.source} cannot be read and no earlier copy is cached: ${p.reason}`,
    hint: () => 'check that the catalogue server is reachable from this node (or fix catalogue.sources); the job is requeued up to maxAttempts times',
  }),
  RTE_UNKNOWN: entry<{ name: string; similar: string[] }>({
    kind: 'permanent',
    message: (p) => `the runtime environment '${p.name}' is in no catalogue of this site` + (p.similar.length ? ` (similar names: ${p.similar.join(', ')})` : ''),
    hint: () => '`vmbatch catalogue search WORD` lists what the catalogues offer; names are exact, e.g. APPS/BIO/WEKA-3.4.10',
  }),
  RTE_DENIED: entry<{ name: string; rule: string }>({
    kind: 'permanent',
    message: (p) => `the runtime environment '${p.name}' is not allowed on this site (${p.rule})`,
    hint: () => "ask the site admin; the catalogue's allowRte/denyRte and allowBase/denyBase rules decide (docs/catalogue.md)",
  }),
  RTE_CYCLE: entry<{ cycle: string[] }>({
    kind: 'permanent',
    message: (p) => `the catalogue's dependencies form a cycle: ${p.cycle.join(' -> ')}`,
    hint: () => 'the catalogue maintainer must break the cycle (a kb:depends that leads back to the package)',
  }),
  RTE_MISSING_DEPENDENCY: entry<{ from: string; ref: string }>({
    kind: 'permanent',
    message: (p) => `${p.from} depends on '${p.ref}', which is in no catalogue of this site`,
    hint: () => 'the catalogue maintainer must add the dependency, or the site must subscribe to the catalogue that has it (catalogue.sources)',
  }),
  RTE_CONFLICT: entry<{ problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the requested runtime environments cannot be used together:\n${bullets(p.problems)}`,
    hint: () => 'request fewer or other versions (`vmbatch catalogue resolve RTE...` shows the plan before submitting)',
  }),
  RTE_NO_BASE: entry<{ rtes: string[]; reasons: string[] }>({
    kind: 'permanent',
    message: (p) => `no base system with a virtual machine on this site has all of ${p.rtes.join(', ')}:\n${bullets(p.reasons)}`,
    hint: () => '`vmbatch catalogue info NAME` shows the base systems each package is built for and the VMs of this site',
  }),
  RTE_VM_MEMORY: entry<{ vm: string; template: string; needKiB: number; haveKiB: number }>({
    kind: 'permanent',
    message: (p) => `the virtual machine ${p.vm} needs ${p.needKiB} KiB of memory, but its domain template ${p.template} allows at most ${p.haveKiB} KiB`,
    hint: () => "the site admin must raise the template's <vbsize maxmemory> (or its <memory> where the memory is fixed), or the catalogue's kb:mem_kb is wrong",
  }),
  RTE_UNSUPPORTED: entry<{ name: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the runtime environment '${p.name}' cannot be provided by vmbatch: ${p.reason}`,
    hint: () => 'docs/catalogue.md lists what vmbatch installs (TarPackage, ImagePackage, command checks)',
  }),
  RTE_PACKAGE_INVALID: entry<{ name: string; url: string; problems: string[] }>({
    kind: 'permanent',
    message: (p) => `the package of ${p.name} (${p.url}) is not a valid runtime environment:\n${bullets(p.problems)}`,
    hint: () => 'a TarPackage needs control/install and control/runtime and a data/ directory (docs/catalogue.md); the package is marked FAILED',
  }),
  RTE_FAILED: entry<{ name: string; since: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the runtime environment '${p.name}' is marked FAILED on this site since ${p.since}: ${p.reason}`,
    hint: (p) => `once the package is fixed, the site admin runs \`vmbatch catalogue setstate INSTALLABLE ${p.name}\``,
  }),
  RTE_REMOVAL_PENDING: entry<{ name: string }>({
    kind: 'transient',
    message: (p) => `the runtime environment '${p.name}' is being removed from this node's cache and is not given to new jobs`,
    hint: () => 'the job is requeued; it gets a fresh copy once `vmbatch catalogue sweep` has removed the old one',
  }),
  RTE_STATE_REFUSED: entry<{ name: string; from: string; to: string; reason: string }>({
    kind: 'permanent',
    message: (p) => `the runtime environment '${p.name}' cannot go from ${p.from} to ${p.to}: ${p.reason}`,
    hint: () => 'docs/catalogue.md shows the states and the changes an admin may make',
  }),
} as const;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof errorCatalogue;
/** The parameters an error code's message needs. */
export type ErrorParams<C extends ErrorCode> = Parameters<(typeof errorCatalogue)[C]['message']>[0];

// The two mirror errors say the same; their kind (and so the hint) tells requeue from abort.
function everyUrlFailed(p: { url: string; failures: string[] }): string {
  return `${p.url} could not be downloaded from any of its ${p.failures.length} URLs:\n${bullets(p.failures)}`;
}

function bullets(lines: string[]): string {
  return lines.map((l) => `  - ${l}`).join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function describeExit(code: number | string): string {
  return typeof code === 'number' ? `exit code ${code}` : code;
}
