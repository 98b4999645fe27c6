import ssh2 from 'ssh2';

const { utils } = ssh2;

/** An SSH key pair in OpenSSH formats. */
export interface SshKeyPair {
  privateKey: string;
  publicKey: string;
}

/** Generates a per-job ed25519 key pair (in-process: no ssh-keygen subprocess). */
export function generateKeyPair(comment: string): SshKeyPair {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public.trim() };
}

/** The raw key blob of an OpenSSH public key line, as an SSH server presents it. */
export function publicKeyBlob(publicKeyLine: string): Buffer {
  const b64 = publicKeyLine.trim().split(/\s+/)[1];
  if (!b64) throw new Error(`not an OpenSSH public key line: ${publicKeyLine}`);
  return Buffer.from(b64, 'base64');
}
