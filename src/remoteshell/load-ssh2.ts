import type ssh2 from 'ssh2';

/**
 * ssh2, loaded when a connection is first made or served: evaluating it (its crypto and wasm
 * set-up) costs every hook that merely imports it tens of milliseconds, and most never connect.
 */
export async function loadSsh2(): Promise<typeof ssh2> {
  const loaded = await import('ssh2');
  // ssh2 is CommonJS: Node's loader and esbuild's both put module.exports under default
  return loaded.default ?? loaded;
}
