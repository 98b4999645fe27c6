import { z } from 'zod';
import { runTool } from '../exec/run-tool.js';

const infoSchema = z.object({
  format: z.string(),
  'virtual-size': z.number(),
  'backing-filename': z.string().optional(),
  'full-backing-filename': z.string().optional(),
});

/** What qemu-img tells of an image file. */
export interface ImageInfo {
  format: string;
  virtualSize: number;
  backingFile: string | undefined;
}

/**
 * Reads an image's format, virtual size and backing file with `qemu-img info`. With `format`
 * the image is opened as that format only (no probing of untrusted bytes), and qemu-img fails
 * when it is not one.
 */
export async function imageInfo(file: string, format?: string): Promise<ImageInfo> {
  const argv = ['qemu-img', 'info', '--output=json', '--force-share', ...(format ? ['-f', format] : []), file];
  const info = infoSchema.parse(JSON.parse((await runTool(argv)).stdout));
  return { format: info.format, virtualSize: info['virtual-size'], backingFile: info['full-backing-filename'] ?? info['backing-filename'] };
}
