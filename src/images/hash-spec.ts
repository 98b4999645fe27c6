import { createHash, type Hash } from 'node:crypto';
import { z } from 'zod';
import { hashAlgorithm } from '../domain/vb-tags.js';

/** The algorithms an image hash may use. */
export const hashAlgorithmSchema = z.enum(['md5', 'sha1', 'sha256', 'sha512']);
/** An image hash algorithm. */
export type HashAlgorithm = z.infer<typeof hashAlgorithmSchema>;

/** An expected or computed digest of an image: algorithm and lower-case hex value. */
export const hashSpecSchema = z.object({ algorithm: hashAlgorithmSchema, value: z.string().regex(/^[0-9a-f]+$/) });
/** A digest of an image. */
export type HashSpec = z.infer<typeof hashSpecSchema>;

/** The digest a <vbcheckhash> asks for (attributes already validated). */
export function hashSpecOf(check: { hashfunction: string; hashvalue: string }): HashSpec {
  return { algorithm: hashAlgorithm(check.hashfunction)!, value: check.hashvalue.toLowerCase() };
}

/** Parses `ALGO:HEX` (a submitter's vbuserimagehash); undefined when it is not one. */
export function parseHashText(text: string): HashSpec | undefined {
  const m = /^(md5|sha1|sha256|sha512):([0-9a-fA-F]+)$/.exec(text);
  const lengths: Record<HashAlgorithm, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };
  if (!m || m[2]!.length !== lengths[m[1] as HashAlgorithm]) return undefined;
  return { algorithm: m[1] as HashAlgorithm, value: m[2]!.toLowerCase() };
}

/** A running digest over streamed bytes. */
export function createDigest(algorithm: HashAlgorithm): Hash {
  return createHash(algorithm);
}

/** `ALGO:HEX`, as logs and `vmbatch images list` show a digest. */
export function formatHash(hash: HashSpec): string {
  return `${hash.algorithm}:${hash.value}`;
}
