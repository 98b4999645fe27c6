import { z } from 'zod';
import { runTool } from '../exec/run-tool.js';

const infoSchema = z.object({
  format: z.string(),
  'virtual-size': z.number(),
  'backing-filename': z.string().optional(),
  'full-backing-filename': z.string().optional(),
  'format-specific': z
    .object({ data: z.object({ 'data-file': z.string().optional() }).passthrough().optional() })
    .passthrough()
    .optional(),
});

/** What qemu-img tells of an image file. */
export interface ImageInfo {
  format: string;
  virtualSize: number;
  backingFile: string | undefined;
  /** a qcow2 image's external data file */
  dataFile: string | undefined;
}

/**
 * Reads an image's format, virtual size and backing file with `qemu-img info`. The image is
 * opened as `format` only (no probing of untrusted bytes), and qemu-img fails when it is not
 * one. Only for images whose header checkImageHeader passed: qemu-img opens what it names.
 */
export async function imageInfo(file: string, format: string): Promise<ImageInfo> {
  const argv = ['qemu-img', 'info', '--output=json', '--force-share', '-f', format, file];
  const info = infoSchema.parse(JSON.parse((await runTool(argv)).stdout));
  return { format: info.format, virtualSize: info['virtual-size'], backingFile: info['full-backing-filename'] ?? info['backing-filename'], dataFile: info['format-specific']?.data?.['data-file'] };
}
