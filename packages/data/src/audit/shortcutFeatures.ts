/**
 * The non-anatomical features the shortcut probe may use: things that differ between hospitals,
 * scanners and repositories rather than between diseases.
 */
import type { FileFacts } from './fileFacts.ts';

export const shortcutFeatureNames = [
  'width',
  'height',
  'aspect ratio',
  'bit depth',
  'colour (stored channels)',
  'JPEG format',
  'log file size',
  'bytes per pixel',
  'border mean',
  'border spread',
] as const;

export function shortcutFeatures(f: FileFacts): number[] {
  return [
    f.width,
    f.height,
    f.width / f.height,
    f.bitDepth,
    f.channels,
    f.format === 'jpeg' ? 1 : 0,
    Math.log(f.bytes),
    f.bytes / (f.width * f.height),
    f.borderMean,
    f.borderStd,
  ];
}
