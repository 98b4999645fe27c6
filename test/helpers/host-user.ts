import { execa } from 'execa';

/** A real user of the host, as the tests create it. */
export interface HostUser {
  user: string;
  group: string;
  uid: number;
  gid: number;
  home: string;
}

/** Creates (once) a non-root host user with the given ids, different from any guest default. */
export async function ensureHostUser(user: string, uid: number, gid: number): Promise<HostUser> {
  const hasGroup = await execa('getent', ['group', user], { reject: false });
  if (hasGroup.exitCode !== 0) await execa('groupadd', ['-g', String(gid), user]);
  const hasUser = await execa('getent', ['passwd', user], { reject: false });
  if (hasUser.exitCode !== 0) await execa('useradd', ['-m', '-u', String(uid), '-g', String(gid), '-s', '/bin/bash', user]);
  return { user, group: user, uid, gid, home: `/home/${user}` };
}
