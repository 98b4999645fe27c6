import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { runTool } from '../exec/run-tool.js';
import { writeFileAtomic } from '../fsutil/atomic-write.js';
import { cleanVirshError, virsh } from '../hypervisor/virsh.js';
import { buildSaveImageHeader } from './save-image.js';
import type { WarmEntry } from './warm-entry.js';

// Writes the job's header and then the saved stream into the FIFO: cat and tail move the stream
// in the kernel's pipe-sized pieces, ~0.2 s quicker for the test guest's 75 MiB than a Node
// stream (bench/warmstart.ts). Its paths come as arguments, never as part of the script.
const feedScript = '{ cat "$1" && exec tail -c "+$2" "$3"; } > "$4"';

/**
 * Starts the job's domain from a saved state: libvirt reads the save image from a FIFO in the
 * job directory, into which a feed writes a header carrying the job's XML (its own name, UUID,
 * overlays, console, sockets, and its context ISO in the CD-ROM drive that was empty when the
 * state was saved) and then the saved state's stream, so that no job copies or changes the
 * state and any number of jobs restore one state at once. `paused`: the guest waits, not running
 * (a pool's), until it is resumed.
 */
export async function restoreFromWarmState(input: { uri: string; domainName: string; xml: string; entry: WarmEntry; dir: string; paused?: boolean }): Promise<void> {
  const { entry } = input;
  const fifo = `${input.dir}/restore.fifo`;
  const headerFile = `${input.dir}/restore.header`;
  rmSync(fifo, { force: true });
  writeFileAtomic(headerFile, buildSaveImageHeader({ xml: input.xml, cookie: entry.header.cookie, wasRunning: !input.paused }), { mode: 0o600 });
  await runTool(['mkfifo', '-m', '0600', fifo]);
  // the feed's open waits for its reader, libvirt; a restore that fails lets it go (below)
  const feed = runTool(['sh', '-c', feedScript, 'vmbatch-warm-feed', headerFile, String(entry.header.streamOffset + 1), entry.paths.memoryState, fifo]);
  feed.catch(() => undefined);
  try {
    await virsh(input.uri, ['restore', fifo]);
  } catch (error) {
    releaseFeed(fifo);
    if (isVmbatchError(error, 'TOOL_FAILED'))
      throw new VmbatchError('WARM_RESTORE_FAILED', { domain: input.domainName, reason: cleanVirshError(error.params.stderr) || `virsh exited with ${error.params.exitCode}` });
    throw error;
  } finally {
    await feed.catch(() => undefined);
    rmSync(fifo, { force: true });
    rmSync(headerFile, { force: true });
  }
}

// A feed still waiting to open the FIFO (libvirt never opened it) is let go by a reader that
// opens and closes it at once: its open returns, its first write fails, and it ends.
function releaseFeed(fifo: string): void {
  try {
    closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch {
    // gone already: nothing waits on it
  }
}
