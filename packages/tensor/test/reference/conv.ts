/** Float64 references for conv2d and its gradients (direct loops, NCHW / OIHW). */
export interface RefConvOpts {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

export interface RefGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  G: number;
}

export function refGeom(x: number[], w: number[], o: RefConvOpts = {}): RefGeom {
  const [N, C, H, W] = x;
  const [O, , KH, KW] = w;
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const G = o.groups ?? 1;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  return { N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G };
}

/** Visits every (output element, input element, weight element) triple that contributes. */
function each(g: RefGeom, f: (yi: number, xi: number, wi: number) => void): void {
  const Cg = g.C / g.G;
  const Og = g.O / g.G;
  for (let n = 0; n < g.N; n++) {
    for (let o = 0; o < g.O; o++) {
      const grp = Math.floor(o / Og);
      for (let oh = 0; oh < g.OH; oh++) {
        for (let ow = 0; ow < g.OW; ow++) {
          const yi = ((n * g.O + o) * g.OH + oh) * g.OW + ow;
          for (let c = 0; c < Cg; c++) {
            const ci = grp * Cg + c;
            for (let kh = 0; kh < g.KH; kh++) {
              const ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (let kw = 0; kw < g.KW; kw++) {
                const iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                f(yi, ((n * g.C + ci) * g.H + ih) * g.W + iw, ((o * Cg + c) * g.KH + kh) * g.KW + kw);
              }
            }
          }
        }
      }
    }
  }
}

export function refConv2d(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, g: RefGeom): Float64Array {
  const y = new Float64Array(g.N * g.O * g.OH * g.OW);
  if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (g.OH * g.OW)) % g.O];
  each(g, (yi, xi, wi) => {
    y[yi] += x[xi] * w[wi];
  });
  return y;
}

export function refConv2dBackwardInput(dy: ArrayLike<number>, w: ArrayLike<number>, g: RefGeom): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  each(g, (yi, xi, wi) => {
    dx[xi] += dy[yi] * w[wi];
  });
  return dx;
}

export function refConv2dBackwardWeight(dy: ArrayLike<number>, x: ArrayLike<number>, g: RefGeom): Float64Array {
  const dw = new Float64Array(g.O * (g.C / g.G) * g.KH * g.KW);
  each(g, (yi, xi, wi) => {
    dw[wi] += dy[yi] * x[xi];
  });
  return dw;
}

export function refConv2dBackwardBias(dy: ArrayLike<number>, g: RefGeom): Float64Array {
  const db = new Float64Array(g.O);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (g.OH * g.OW)) % g.O] += dy[i];
  return db;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
