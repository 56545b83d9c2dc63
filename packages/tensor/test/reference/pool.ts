/** Float64 references for pooling (NCHW), written from PyTorch's definitions. */
export interface RefPool {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  ceil: boolean;
}

export function poolOut(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= size + p) o--;
  return o;
}

export function refMaxPool(x: ArrayLike<number>, [N, C, H, W]: number[], o: RefPool) {
  const OH = poolOut(H, o.kh, o.sh, o.ph, o.dh, o.ceil);
  const OW = poolOut(W, o.kw, o.sw, o.pw, o.dw, o.ceil);
  const out = new Float64Array(N * C * OH * OW);
  const idx = new Int32Array(out.length);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let best = -Infinity;
        let bi = -1;
        for (let a = 0; a < o.kh; a++)
          for (let b = 0; b < o.kw; b++) {
            const h = oh * o.sh - o.ph + a * o.dh;
            const w = ow * o.sw - o.pw + b * o.dw;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const v = x[p * H * W + h * W + w];
            if (bi < 0 || v > best) {
              best = v;
              bi = h * W + w;
            }
          }
        const q = (p * OH + oh) * OW + ow;
        out[q] = x[p * H * W + bi];
        idx[q] = bi;
      }
  return { out, idx, OH, OW };
}

export function refMaxPoolBackward(dy: ArrayLike<number>, idx: ArrayLike<number>, [N, C, H, W]: number[], ohw: number): Float64Array {
  const dx = new Float64Array(N * C * H * W);
  for (let p = 0; p < N * C; p++) for (let j = 0; j < ohw; j++) dx[p * H * W + idx[p * ohw + j]] += dy[p * ohw + j];
  return dx;
}

function avgWindow(oh: number, ow: number, H: number, W: number, o: RefPool, countIncludePad: boolean) {
  let hs = oh * o.sh - o.ph,
    ws = ow * o.sw - o.pw;
  let he = Math.min(hs + o.kh, H + o.ph),
    we = Math.min(ws + o.kw, W + o.pw);
  const full = (he - hs) * (we - ws);
  hs = Math.max(hs, 0);
  ws = Math.max(ws, 0);
  he = Math.min(he, H);
  we = Math.min(we, W);
  return { hs, ws, he, we, div: countIncludePad ? full : (he - hs) * (we - ws) };
}

export function refAvgPool(x: ArrayLike<number>, [N, C, H, W]: number[], o: RefPool, countIncludePad: boolean) {
  const OH = poolOut(H, o.kh, o.sh, o.ph, 1, o.ceil);
  const OW = poolOut(W, o.kw, o.sw, o.pw, 1, o.ceil);
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const win = avgWindow(oh, ow, H, W, o, countIncludePad);
        let s = 0;
        for (let h = win.hs; h < win.he; h++) for (let w = win.ws; w < win.we; w++) s += x[p * H * W + h * W + w];
        out[(p * OH + oh) * OW + ow] = s / win.div;
      }
  return { out, OH, OW };
}

/** Scatter-style (the opposite of the kernel's gather) so the two are independent. */
export function refAvgPoolBackward(dy: ArrayLike<number>, [N, C, H, W]: number[], OH: number, OW: number, o: RefPool, countIncludePad: boolean): Float64Array {
  const dx = new Float64Array(N * C * H * W);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const win = avgWindow(oh, ow, H, W, o, countIncludePad);
        const g = dy[(p * OH + oh) * OW + ow] / win.div;
        for (let h = win.hs; h < win.he; h++) for (let w = win.ws; w < win.we; w++) dx[p * H * W + h * W + w] += g;
      }
  return dx;
}

const bins = (i: number, n: number, o: number) => [Math.floor((i * n) / o), Math.ceil(((i + 1) * n) / o)];

export function refAdaptiveAvgPool(x: ArrayLike<number>, [N, C, H, W]: number[], OH: number, OW: number): Float64Array {
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const [hs, he] = bins(oh, H, OH);
        const [ws, we] = bins(ow, W, OW);
        let s = 0;
        for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) s += x[p * H * W + h * W + w];
        out[(p * OH + oh) * OW + ow] = s / ((he - hs) * (we - ws));
      }
  return out;
}

export function refAdaptiveAvgPoolBackward(dy: ArrayLike<number>, [N, C, H, W]: number[], OH: number, OW: number): Float64Array {
  const dx = new Float64Array(N * C * H * W);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const [hs, he] = bins(oh, H, OH);
        const [ws, we] = bins(ow, W, OW);
        const g = dy[(p * OH + oh) * OW + ow] / ((he - hs) * (we - ws));
        for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) dx[p * H * W + h * W + w] += g;
      }
  return dx;
}
