# vmbatch — the two commands of the README are `make demo` and `make test`.
.PHONY: all setup build deb guest demo test test-unit lint format coverage coverage-unit bench bench-startup bench-warm bench-changes bench-shares bench-slurm bench-compare install-hooks install-slurm clean

all: build

setup:
	bash scripts/setup.sh

build:
	npm run build --silent

guest:
	bash scripts/build-test-guest.sh /var/lib/vmbatch/guest
	bash scripts/build-cloud-guest.sh /var/lib/vmbatch/cloud-guest

## boot a guest from domains/ and run a sample job in it as a normal user, through the Torque hooks
demo:
	bash scripts/setup.sh demo
	node dist/scripts/demo.js

## the whole test suite (unit, Torque contract, end-to-end through qemu:///system)
test: setup
	node scripts/run-tests.mjs

test-unit: build
	node scripts/run-tests.mjs --unit

## the whole suite as make test, with coverage collected in the same run: one line per folder of src/ (lines, branches) before the final count; coverage/lcov.info
coverage: setup
	node scripts/run-tests.mjs --coverage

## the unit suites alone with coverage (no libvirtd, guest or root)
coverage-unit: build
	node scripts/run-tests.mjs --unit --coverage

## every check, failing on any finding: tsc --noEmit, eslint (type-aware, --max-warnings 0), prettier --check, shellcheck (scripts/lint.sh)
lint:
	[ -d node_modules/eslint ] || npm ci --no-audit --no-fund --loglevel=error
	bash scripts/lint.sh

## rewrite the files prettier formats in place (.prettierrc.json; what it leaves alone: .prettierignore)
format:
	[ -d node_modules/prettier ] || npm ci --no-audit --no-fund --loglevel=error
	node_modules/.bin/prettier --write --log-level warn .

## figures next to the bare tools (prints, asserts nothing): start-up next to `node -e 0` (dist/, the bundle, its code cache); the prologue by phase; image downloads, overlays, concurrent fetches; contexts; catalogue load and resolution; the job's files shared, on the guest's disk, on the host and staged; warm start against a cold boot; saving and booting a submitter's changes
bench: setup
	node dist/bench/startup.js
	node dist/bench/prologue.js
	node dist/bench/images.js
	node dist/bench/context.js
	node dist/bench/catalogue.js
	node dist/bench/shares.js
	node dist/bench/slurm.js
	node dist/bench/warmstart.js
	node dist/bench/changes.js

## start-up alone: node -e 0, the checkout's dist/, the package's bundle with and without its code cache
bench-startup: build
	node dist/bench/startup.js

## warm start alone: a job restored from the saved test guest against one booting it, alternating; next to virsh restore and virsh create --paused
bench-warm: setup
	node dist/bench/warmstart.js

## saved changes alone: saving a job's 100 MiB of changes next to qemu-img convert -c of the same overlay; booting base + changes against the base
bench-changes: setup
	node dist/bench/changes.js

## vmbatch under the test Slurm alone: whole jobs, the prolog's phases, srun steps into a guest, the session multiplexer's memory
bench-slurm: setup
	node dist/bench/slurm.js

## the shared working directory alone (~9 min with 1 GiB; quicker: make bench-shares VMBATCH_BENCH_SHARE_MIB=256)
bench-shares: setup
	node dist/bench/shares.js

## this checkout's prologue next to an earlier commit's, alternating in one run: make bench-compare BASE=COMMIT
bench-compare: setup
	@test -n "$(BASE)" || { echo "bench-compare: name the earlier commit, e.g. make bench-compare BASE=HEAD~5" >&2; exit 2; }
	rm -rf /tmp/vmbatch-bench-base && git worktree add -f --detach /tmp/vmbatch-bench-base $(BASE)
	ln -s $(CURDIR)/node_modules /tmp/vmbatch-bench-base/node_modules
	cd /tmp/vmbatch-bench-base && npm run build --silent
	node dist/bench/prologue-compare.js /tmp/vmbatch-bench-base; rc=$$?; git worktree remove --force /tmp/vmbatch-bench-base; exit $$rc

## install the hooks from this checkout into a real pbs_mom (a node installs the package instead: README, "Install on a node"): make install-hooks [MOM_PRIV=/var/spool/torque/mom_priv]
install-hooks: build
	node dist/src/cli/main.js install-hooks torque --mom-priv $(or $(MOM_PRIV),/var/spool/torque/mom_priv)

## install the SPANK plugin and its wrappers on a Slurm node (prints the plugstack.conf and slurm.conf lines): make install-slurm [CONFIG=/etc/vmbatch/vmbatch.json] [PREFIX=/usr/local/libexec/vmbatch]
install-slurm: build
	bash scripts/install-slurm.sh $(or $(CONFIG),/etc/vmbatch/vmbatch.json) $(PREFIX)

clean:
	rm -rf dist

## the Debian packages, built with debhelper from this checkout: vmbatch_VERSION_all.deb and vmbatch-slurm_VERSION_ARCH.deb here
deb:
	[ -d node_modules/esbuild ] || npm ci --no-audit --no-fund --loglevel=error
	dpkg-buildpackage -b -us -uc --no-sign
	mv ../vmbatch_*_all.deb ../vmbatch-slurm_*.deb ../vmbatch_*.buildinfo ../vmbatch_*.changes . 2>/dev/null || true
	lintian --fail-on error vmbatch_*_all.deb vmbatch-slurm_*.deb
