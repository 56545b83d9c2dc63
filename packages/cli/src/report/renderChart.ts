/**
 * Chart rendering pipeline shared by every picture: Vega-Lite spec -> Vega -> SVG (vega's headless
 * 'none' renderer, no canvas needed) -> PNG with resvg. resvg gets DejaVu Sans explicitly and no
 * system font scan, so output is the same on every machine and does not depend on fontconfig.
 */
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export const fontFamily = 'DejaVu Sans';
const fontDir = '/usr/share/fonts/truetype/dejavu';
const fontFiles = [`${fontDir}/DejaVuSans.ttf`, `${fontDir}/DejaVuSans-Bold.ttf`];

/** Rasterises an SVG string; `scale` > 1 gives sharper pictures for papers and retina screens. */
export function svgToPng(svg: string, scale = 2): Buffer {
  const present = fontFiles.filter((f) => existsSync(f));
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: {
      // Without the font files present, fall back to the system scan rather than drawing no text.
      loadSystemFonts: present.length === 0,
      fontFiles: present,
      defaultFontFamily: fontFamily,
      sansSerifFamily: fontFamily,
    },
  });
  return resvg.render().asPng();
}

/** Shared look: the font and sizes of a paper figure, applied to every Vega-Lite chart. */
export const chartConfig = {
  font: fontFamily,
  background: 'white',
  view: { stroke: '#888' },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, anchor: 'middle' as const },
  header: { labelFontSize: 13, titleFontSize: 13 },
};

/** Compiles and renders a Vega-Lite spec to an SVG string. */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Spec -> PNG bytes in one call. */
export async function renderVegaLitePng(spec: TopLevelSpec, scale = 2): Promise<Buffer> {
  return svgToPng(await vegaLiteToSvg(spec), scale);
}
