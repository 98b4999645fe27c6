import { VmbatchError, isVmbatchError } from '../errors/vmbatch-error.js';
import { readImageHeader, type ImageHeader } from './image-header.js';
import { imageInfo, type ImageInfo } from './image-info.js';

/** What an image may be beyond its format: a bound on its virtual size, the one backing file allowed. */
export interface ImageLimits {
  /** largest virtual size accepted, in bytes */
  maxVirtualBytes?: number;
  /** the only backing file allowed (a job's overlay of a known base); by default none */
  expectedBacking?: string;
}

/**
 * Judges an image from its header alone, read in this process, before any tool opens it:
 * it must be the declared format, self-contained (no backing file, no external data file, no
 * differencing parent: each could name any file of the host, which root's tools and the guest
 * would then open), in a format whose header vmbatch can read, and within the size limit.
 * Returns the header's facts.
 */
export async function checkImageHeader(file: string, format: string, url: string, limits: ImageLimits = {}): Promise<ImageHeader> {
  const header = await readImageHeader(file, format);
  if (!header) {
    throw new VmbatchError('IMAGE_UNCHECKABLE', {
      url,
      reason: `${format} images can name other files (extents, backing or data files) that vmbatch cannot check without opening them; base images must be qcow2, qcow, vpc (VHD) or raw`,
    });
  }
  if (header.format !== format && format !== 'raw') throw new VmbatchError('IMAGE_FORMAT_MISMATCH', { url, declared: format, actual: header.format });
  if (header.dataFile !== undefined) throw new VmbatchError('IMAGE_REFERENCES_OUTSIDE', { url, what: `an external data file (${header.dataFile})` });
  if (header.parent !== undefined && header.parent !== limits.expectedBacking)
    throw new VmbatchError('IMAGE_REFERENCES_OUTSIDE', { url, what: `a parent disk (${header.parent}): it is a VHD differencing disk` });
  if (header.backingFile !== undefined && header.backingFile !== limits.expectedBacking) {
    throw new VmbatchError('IMAGE_HAS_BACKING_FILE', { url, backing: header.backingFile });
  }
  if (header.uncheckable) throw new VmbatchError('IMAGE_UNCHECKABLE', { url, reason: header.uncheckable });
  if (limits.maxVirtualBytes !== undefined && header.virtualSize > limits.maxVirtualBytes) {
    throw new VmbatchError('IMAGE_VIRTUAL_SIZE_TOO_LARGE', { url, size: header.virtualSize, limit: Math.floor(limits.maxVirtualBytes / 1048576) });
  }
  return header;
}

/**
 * Checks an image fully: its header first (in-process, see checkImageHeader), then, only once
 * nothing in it points outside, `qemu-img info` opens it as the declared format (never probing
 * untrusted bytes into another format, --force-share) for what qemu itself makes of it.
 */
export async function checkImage(file: string, format: string, url: string, limits: ImageLimits = {}): Promise<ImageInfo> {
  const header = await checkImageHeader(file, format, url, limits);
  let info: ImageInfo;
  try {
    info = await imageInfo(file, format);
  } catch (error) {
    if (!isVmbatchError(error, 'TOOL_FAILED')) throw error;
    throw new VmbatchError('IMAGE_FORMAT_MISMATCH', { url, declared: format, actual: `a damaged ${header.format}` });
  }
  // what qemu reads must agree with the header: a second opinion, never the first
  if (info.dataFile) throw new VmbatchError('IMAGE_REFERENCES_OUTSIDE', { url, what: `an external data file (${info.dataFile})` });
  if (info.backingFile && info.backingFile !== limits.expectedBacking) throw new VmbatchError('IMAGE_HAS_BACKING_FILE', { url, backing: info.backingFile });
  return info;
}
