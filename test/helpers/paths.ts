import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The repository root (tests run from dist/test/...). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The shipped domain templates. */
export const domainsDir = join(repoRoot, 'domains');

/** The test guest's directory (scripts/build-test-guest.sh DIR); VMBATCH_TEST_GUEST runs the suite against one built elsewhere. */
export const testGuestDir = process.env.VMBATCH_TEST_GUEST || '/var/lib/vmbatch/guest';
