/**
 * One `cxr explain` picture: the X-ray in grey with its Grad-CAM map blended on top, captioned with
 * the predicted (or requested) class and its probability. SVG rasterised by resvg, as samples.png.
 */
import { imageToPng, type SampleImage } from './imagePixels.ts';
import { fontFamily, svgToPng } from './renderChart.ts';

const escapeXml = (t: string) => t.replace(/[<>&'"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[ch]!);

export function renderExplainPng(overlay: SampleImage, caption: string, detail: string, size = 448): Buffer {
  const scale = size / Math.max(overlay.width, overlay.height);
  const w = overlay.width * scale;
  const h = overlay.height * scale;
  const uri = `data:image/png;base64,${imageToPng(overlay).toString('base64')}`;
  const H = h + 56;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${H}" viewBox="0 0 ${w} ${H}"><rect width="100%" height="100%" fill="white"/>` +
    `<image x="0" y="0" width="${w}" height="${h}" href="${uri}"/>` +
    `<text x="6" y="${h + 22}" font-family="${fontFamily}" font-size="16" font-weight="bold">${escapeXml(caption)}</text>` +
    `<text x="6" y="${h + 44}" font-family="${fontFamily}" font-size="12" fill="#555">${escapeXml(detail)}</text></svg>`;
  return svgToPng(svg, 1);
}
