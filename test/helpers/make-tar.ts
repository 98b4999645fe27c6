import { execa } from 'execa';

/** One member of a test archive: a file with content, a directory, or a link (mtime: epoch seconds, default 0). */
export type TarMember = { name: string; content?: string; mode?: number; mtime?: number; symlink?: string; hardlink?: string; dir?: boolean; fifo?: boolean; chardev?: boolean };

/** Writes a tar archive with exactly these members (python's tarfile writes any name, '..' and absolute ones too). */
export async function makeTar(file: string, members: TarMember[], gzip = false): Promise<void> {
  const script = `
import io, json, sys, tarfile
members = json.loads(sys.argv[2])
with tarfile.open(sys.argv[1], 'w:gz' if sys.argv[3] == '1' else 'w', format=tarfile.GNU_FORMAT) as tar:
    for m in members:
        info = tarfile.TarInfo(m['name'])
        info.mode = m.get('mode', 0o644)
        info.mtime = m.get('mtime', 0)
        data = None
        if m.get('dir'):
            info.type = tarfile.DIRTYPE; info.mode = m.get('mode', 0o755)
        elif 'symlink' in m:
            info.type = tarfile.SYMTYPE; info.linkname = m['symlink']
        elif 'hardlink' in m:
            info.type = tarfile.LNKTYPE; info.linkname = m['hardlink']
        elif m.get('fifo'):
            info.type = tarfile.FIFOTYPE
        elif m.get('chardev'):
            info.type = tarfile.CHRTYPE; info.devmajor = 1; info.devminor = 3
        else:
            data = m.get('content', '').encode(); info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data is not None else None)
`;
  await execa('python3', ['-c', script, file, JSON.stringify(members), gzip ? '1' : '0']);
}
