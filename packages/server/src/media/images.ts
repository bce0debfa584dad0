import { HearthError } from '@hearth/protocol';

export type ImageType = 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp';

export interface ProcessedImage {
  data: Buffer;
  type: ImageType;
  extension: 'jpg' | 'png' | 'gif' | 'webp';
  width: number;
  height: number;
}

const FORMATS = {
  jpeg: { type: 'image/jpeg', extension: 'jpg' },
  png: { type: 'image/png', extension: 'png' },
  gif: { type: 'image/gif', extension: 'gif' },
  webp: { type: 'image/webp', extension: 'webp' },
} as const;

/** Largest side kept; bigger images are scaled down (a phone photo needs no 8,000 pixels online). */
const MAX_SIDE = 2560;

export class NotAnImageError extends HearthError {
  constructor(detail: string) {
    super('not_an_image', `this file is not an image Hearth accepts (JPEG, PNG, GIF or WebP): ${detail}`, { status: 415 });
  }
}

let sharpModule: Promise<typeof import('sharp')> | undefined;
const sharpLib = () => (sharpModule ??= import('sharp'));

/**
 * Checks an upload by decoding it, whatever its name or declared type claims, and re-encodes it.
 * Re-encoding keeps the pixels and drops everything else: EXIF (GPS location, camera serial),
 * XMP, comments, and any payload hidden after the image data. The EXIF orientation is applied
 * first, so photos stay the right way up.
 */
export async function processImage(input: Buffer): Promise<ProcessedImage> {
  const sharp = (await sharpLib()).default;
  let meta;
  try {
    meta = await sharp(input, { failOn: 'error', limitInputPixels: 50_000_000 }).metadata();
  } catch {
    throw new NotAnImageError('its content is not a readable image');
  }
  const format = meta.format && meta.format in FORMATS ? FORMATS[meta.format as keyof typeof FORMATS] : undefined;
  if (!format) throw new NotAnImageError(`its content is ${meta.format ?? 'of an unknown kind'}`);
  const animated = format.type === 'image/gif' || format.type === 'image/webp';
  try {
    let pipeline = sharp(input, { failOn: 'error', limitInputPixels: 50_000_000, animated }).rotate();
    pipeline = pipeline.resize({ width: MAX_SIDE, height: MAX_SIDE, fit: 'inside', withoutEnlargement: true });
    const encoded =
      format.type === 'image/jpeg' ? pipeline.jpeg({ quality: 85, mozjpeg: true })
      : format.type === 'image/png' ? pipeline.png({ compressionLevel: 9 })
      : format.type === 'image/gif' ? pipeline.gif()
      : pipeline.webp({ quality: 85 });
    const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
    return { data, type: format.type, extension: format.extension, width: info.width, height: info.pageHeight ?? info.height };
  } catch {
    throw new NotAnImageError('the image data is damaged');
  }
}
