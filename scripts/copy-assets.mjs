// Copies the non-TypeScript files the compiled code reads (guest scripts, the share launcher) next to it in OUTDIR (default dist/).
import { cpSync, chmodSync } from 'node:fs';
const out = process.argv[2] ?? 'dist';
cpSync('src/context/guest', `${out}/src/context/guest`, { recursive: true });
for (const f of ['prolog.sh', 'epilog.sh', 'rte-install.sh']) chmodSync(`${out}/src/context/guest/${f}`, 0o755);
cpSync('src/share/host', `${out}/src/share/host`, { recursive: true });
chmodSync(`${out}/src/share/host/virtiofsd-launch.pl`, 0o755);
