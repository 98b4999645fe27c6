import { z } from 'zod';

/** A Torque job id: sequence number, optional array index, optional server name ("2.vm", "7[3].head-1.site"). */
export const jobIdSchema = z
  .string()
  .max(200)
  .regex(
    /^[0-9]+(\[[0-9]*\])?(\.[A-Za-z0-9][A-Za-z0-9-]*)*$/,
    "must be a Torque job id: digits, an optional array index like [3], and an optional server name of letters, digits, '.' and '-' (no shell or path characters)",
  );

/** A user or group name that is safe on the host and portable into any guest (POSIX portable names). */
export const posixNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(32, 'must be at most 32 characters')
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "must be a POSIX name: a letter or '_' first, then letters, digits, '.', '_' or '-'");

/** An absolute path without NUL, '..' components or newlines. */
export const absolutePathSchema = z
  .string()
  .startsWith('/', 'must be an absolute path')
  .refine((p) => !p.split('/').includes('..'), "must not contain '..' components")
  .refine((p) => !/[\0\n\r]/.test(p), 'must not contain NUL or line breaks');

/** The libvirt domain name of a job's guest. */
export function domainNameFor(jobId: string): string {
  return `vmbatch-${jobId}`;
}
