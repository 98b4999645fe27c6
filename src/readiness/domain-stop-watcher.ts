import { spawnTool } from '../exec/spawn-tool.js';

/** A live watch for a domain stopping (libvirt lifecycle events through `virsh event`). */
export interface StopWatch {
  stopped: Promise<string>;
  close(): void;
}

/** Resolves when libvirt reports the domain stopped or crashed (or the domain is already gone). */
export function watchDomainStop(uri: string, domain: string): StopWatch {
  const started = spawnTool(['virsh', '-c', uri, 'event', '--domain', domain, '--event', 'lifecycle', '--loop']);
  let closed = false;
  const stopped = new Promise<string>((resolve) => {
    void started.then(({ child }) => {
      let text = '';
      child.stdout?.on('data', (chunk: string) => {
        text += chunk;
        const m = /: (Stopped|Crashed)\b[^\n]*/.exec(text);
        if (m) resolve(m[0].slice(2));
      });
      void child.then((r) => {
        // virsh exits at once when the domain no longer exists
        if (!closed) resolve(String(r.stderr ?? '').includes('not found') ? 'Stopped (domain gone)' : 'Stopped');
      });
    });
  });
  return {
    stopped,
    close: () => {
      closed = true;
      void started.then(({ child }) => child.kill('SIGTERM'));
    },
  };
}
