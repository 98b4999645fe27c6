// Copies the non-TypeScript files the compiled code reads (guest scripts, the share launcher) next to it in dist/.
import { cpSync, chmodSync } from 'node:fs';
cpSync('src/context/guest', 'dist/src/context/guest', { recursive: true });
for (const f of ['prolog.sh', 'epilog.sh', 'rte-install.sh']) chmodSync(`dist/src/context/guest/${f}`, 0o755);
cpSync('src/share/host', 'dist/src/share/host', { recursive: true });
chmodSync('dist/src/share/host/virtiofsd-launch.pl', 0o755);
