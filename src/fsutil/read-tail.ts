import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * The last `maxBytes` of a file as latin1 text (every byte kept, none can fail to decode), and
 * whether its front was cut; undefined when it cannot be read. Opened without following a link
 * and only as a regular file: these files hold what a guest wrote.
 */
export function readFileTail(file: string, maxBytes: number): { text: string; cut: boolean } | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const length = Math.min(st.size, maxBytes);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, st.size - length);
    return { text: buffer.subarray(0, read).toString('latin1'), cut: st.size > length };
  } finally {
    closeSync(fd);
  }
}
