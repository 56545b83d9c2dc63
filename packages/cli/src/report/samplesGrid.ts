/**
 * samples.png: one row per actual class, two right then two wrong predictions, each tile captioned
 * with true/predicted label and probability, like the study's sample figure. Drawn as SVG with the
 * images embedded as PNG data URIs and rasterised by resvg, so captions use the same font as the
 * charts and no drawing code for text is needed.
 */
import { imageToPng, type SampleImage } from './imagePixels.ts';
import type { SampleChoice, SampleRow } from './sampleSelection.ts';
import { fontFamily, svgToPng } from './renderChart.ts';

export interface SamplesGridOptions {
  classNames: readonly string[];
  /** Image for a dataset index (as chosen by selectSamples). */
  imageAt: (index: number) => SampleImage;
  /** Tile edge in SVG pixels; images are scaled to fit. Default 150. */
  tileSize?: number;
  title?: string;
  /** Tiles per kind (right/wrong) per row; missing ones are drawn as placeholders so the layout stays 2+2. Default 2. */
  perKind?: number;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[ch]!);
}

const right = '#1a7f37';
const wrong = '#c62828';

export function samplesSvg(rows: readonly SampleRow[], options: SamplesGridOptions): string {
  const tile = options.tileSize ?? 150;
  const perKind = Math.max(options.perKind ?? 2, ...rows.map((r) => Math.max(r.right.length, r.wrong.length)));
  const columns = 2 * perKind;
  const gap = 14;
  const captionHeight = 40;
  const rowLabelWidth = 40;
  const top = options.title ? 64 : 36;
  const cellHeight = tile + captionHeight + gap;
  const width = rowLabelWidth + columns * (tile + gap) + gap;
  const height = top + rows.length * cellHeight + 6;
  const parts: string[] = [];
  const text = (x: number, y: number, body: string, attrs = '') =>
    parts.push(`<text x="${x}" y="${y}" font-family="${fontFamily}" ${attrs}>${escapeXml(body)}</text>`);

  if (options.title) text(width / 2, 26, options.title, 'font-size="17" font-weight="bold" text-anchor="middle"');
  // Column headers say which half of the row is which.
  for (let k = 0; k < columns; k++) {
    const isRight = k < perKind;
    text(
      rowLabelWidth + gap + k * (tile + gap) + tile / 2,
      top - 10,
      isRight ? 'correct' : 'wrong',
      `font-size="13" text-anchor="middle" fill="${isRight ? right : wrong}"`,
    );
  }

  rows.forEach((row, r) => {
    const y = top + r * cellHeight;
    const cy = y + tile / 2;
    const name = options.classNames[row.classIndex];
    // Row label rotated along the left edge, as a figure's row title.
    text(
      rowLabelWidth / 2 + 4,
      cy,
      `actual: ${name}`,
      `font-size="13" font-weight="bold" text-anchor="middle" transform="rotate(-90 ${rowLabelWidth / 2 + 4} ${cy})"`,
    );
    const slots: (SampleChoice | undefined)[] = [
      ...Array.from({ length: perKind }, (_, k) => row.right[k]),
      ...Array.from({ length: perKind }, (_, k) => row.wrong[k]),
    ];
    slots.forEach((choice, k) => {
      const x = rowLabelWidth + gap + k * (tile + gap);
      if (!choice) {
        parts.push(`<rect x="${x}" y="${y}" width="${tile}" height="${tile}" fill="#f4f4f4" stroke="#ccc"/>`);
        text(x + tile / 2, cy + 4, k < perKind ? 'no more correct' : 'no more mistakes', 'font-size="12" fill="#777" text-anchor="middle"');
        return;
      }
      const image = options.imageAt(choice.index);
      const uri = `data:image/png;base64,${imageToPng(image).toString('base64')}`;
      // Fit the longer side to the tile and centre, keeping the aspect ratio.
      const scale = tile / Math.max(image.width, image.height);
      const w = image.width * scale;
      const h = image.height * scale;
      parts.push(`<rect x="${x}" y="${y}" width="${tile}" height="${tile}" fill="#000"/>`);
      parts.push(`<image x="${x + (tile - w) / 2}" y="${y + (tile - h) / 2}" width="${w}" height="${h}" href="${uri}"/>`);
      const colour = choice.correct ? right : wrong;
      parts.push(`<rect x="${x}" y="${y}" width="${tile}" height="${tile}" fill="none" stroke="${colour}" stroke-width="3"/>`);
      text(x + 2, y + tile + 16, `true: ${options.classNames[choice.actual]}`, 'font-size="12" fill="#222"');
      text(
        x + 2,
        y + tile + 32,
        `pred: ${options.classNames[choice.predicted]} (${(choice.probability * 100).toFixed(1)}%)`,
        `font-size="12" fill="${colour}"`,
      );
    });
  });

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
}

export function renderSamplesPng(rows: readonly SampleRow[], options: SamplesGridOptions): Buffer {
  return svgToPng(samplesSvg(rows, options), 2);
}
