import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** An SSH key pair in OpenSSH formats. */
export interface SshKeyPair {
  privateKey: string;
  publicKey: string;
}

/**
 * Generates a per-job ed25519 key pair with Node's crypto and writes it in OpenSSH's formats
 * (no ssh-keygen subprocess, and no SSH library to load in the prologue).
 */
export function generateKeyPair(comment: string): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  // the unencrypted private section is padded with 1, 2, 3, ... to the cipher block size (8)
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(blob), sshString(secret)]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    privateKey: ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n'),
    publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
  };
}

/** The raw key blob of an OpenSSH public key line, as an SSH server presents it. */
export function publicKeyBlob(publicKeyLine: string): Buffer {
  const b64 = publicKeyLine.trim().split(/\s+/)[1];
  if (!b64) throw new Error(`not an OpenSSH public key line: ${publicKeyLine}`);
  return Buffer.from(b64, 'base64');
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function sshString(value: string | Buffer): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([uint32(data.length), data]);
}
