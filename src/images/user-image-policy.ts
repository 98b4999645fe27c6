import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseJsonWith } from '../config/parse-json.js';
import { VmbatchError } from '../errors/vmbatch-error.js';
import { parseHashText } from './hash-spec.js';
import { hasTraversal, type ImageSource } from './image-source.js';

/** The site's rules for images submitters choose with `-l other=vbuserimage=URL` (JSON file). */
export const userImagePolicySchema = z
  .object({
    /** URL prefixes an image (and every redirect on the way) must start with */
    allow: z
      .array(
        z
          .string()
          .url()
          .refine((u) => /^https?:\/\/[^/]+\/(.*\/)?$/i.test(u), { message: "must be an http:// or https:// URL ending in '/'" })
          // compared with normalized URLs, so normalized too (scheme and host in lower case)
          .transform((u) => new URL(u).href),
      )
      .min(1),
    /** whether the submitter must give vbuserimagehash=ALGO:HEX */
    requireHash: z.boolean().default(true),
    /** largest image accepted, in MiB */
    maxSizeMiB: z.number().int().positive().default(10240),
    /** largest virtual size accepted, in MiB: what the guest can write into the node's STATEDIR */
    maxVirtualSizeMiB: z.number().int().positive().default(65536),
    /** 'shared': cached once per image for every job; 'download': fetched for each job */
    copyMethod: z.enum(['shared', 'download']).default('shared'),
  })
  .strict();
/** A validated user image policy. */
export type UserImagePolicy = z.infer<typeof userImagePolicySchema>;

/** Reads the policy; undefined when the file does not exist (then no submitter image is accepted). */
export function loadUserImagePolicy(path: string): UserImagePolicy | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VmbatchError('USER_IMAGE_POLICY_INVALID', { path, problems: [(error as Error).message] });
  }
  const parsed = parseJsonWith(text, userImagePolicySchema);
  if ('problems' in parsed) throw new VmbatchError('USER_IMAGE_POLICY_INVALID', { path, problems: parsed.problems });
  return parsed.data;
}

/**
 * Checks a submitter's image against the policy and returns it as an image source. Only
 * http(s) URLs under an allowed prefix pass: never file://, host paths, credentials or '..'.
 */
export function checkUserImage(input: { image: string; hashText: string | undefined; policy: UserImagePolicy | undefined; policyPath: string }): ImageSource {
  const { image, hashText, policy } = input;
  const refuse = (reason: string) => new VmbatchError('USER_IMAGE_REFUSED', { image, reason });
  if (!policy) throw refuse(`this node has no user image policy (${input.policyPath})`);
  const url = checkUserImageUrl(image, policy.allow);
  if (url instanceof VmbatchError) throw url;
  let hash;
  if (hashText !== undefined) {
    hash = parseHashText(hashText);
    if (!hash) throw refuse(`vbuserimagehash '${hashText}' is not ALGO:HEX with ALGO one of md5, sha1, sha256, sha512`);
  } else if (policy.requireHash) {
    throw refuse('the site requires its hash: add :vbuserimagehash=sha256:HEX to -l other=');
  }
  return { url, hash, origin: 'submitter', maxBytes: policy.maxSizeMiB * 1024 * 1024, maxVirtualBytes: policy.maxVirtualSizeMiB * 1048576, allowedPrefixes: policy.allow };
}

/** The normalized URL when `image` is an http(s) URL under one of `allow`; else the refusal. */
export function checkUserImageUrl(image: string, allow: string[]): string | VmbatchError {
  const refuse = (reason: string) => new VmbatchError('USER_IMAGE_REFUSED', { image, reason });
  // the raw string, before the URL parser drops control characters (after which '.%0a.' would
  // be '..') or decodes anything; '%25' (an escaped '%') is how '%2e' gets past one decoding
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const control = /[\x00-\x1f\x7f]/.exec(image);
  if (control) return refuse(`it contains the control character 0x${control[0].charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (/%25/i.test(image)) return refuse("it contains '%25', an escaped '%' (a double-encoded escape)");
  let parsed: URL;
  try {
    parsed = new URL(image);
  } catch {
    return refuse('it is not a URL (only http:// and https:// URLs are accepted, never host paths)');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return refuse(`only http:// and https:// URLs are accepted, not ${parsed.protocol}//`);
  }
  if (parsed.username || parsed.password) return refuse('URLs with a user name or password are not accepted');
  const rawPath = image.replace(/^[a-z]+:\/\/[^/]*/i, '').split(/[?#]/)[0] ?? '';
  if (hasTraversal(rawPath)) return refuse("its path contains '..', '.' or '\\'");
  if (!allow.some((prefix) => parsed.href.startsWith(prefix))) {
    return refuse(`it is not under a location the site allows (${allow.join(', ')})`);
  }
  return parsed.href;
}
