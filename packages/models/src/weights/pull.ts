// `cxr weights pull vgg16|resnet18`: fetch torchvision's official ImageNet weights once, verify
// them against the SHA-256 prefix torchvision puts in the file name, and cache them. This
// machine is usually offline, so the failure path matters as much as the download: it must say
// exactly where a manually downloaded file should go.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
// The leaf module only: this folder stays free of GPU code.
import { cacheDir } from '@cxr/tensor/cacheDir';

export const officialWeights = {
  resnet18: 'resnet18-f37072fd.pth',
  vgg16: 'vgg16-397923af.pth',
} as const;

export type PretrainedArch = keyof typeof officialWeights;

export const torchvisionBaseUrl = 'https://download.pytorch.org/models';

export interface PullOptions {
  /** Defaults to `cacheDir()`: $CXR_CACHE, else $XDG_CACHE_HOME/cxr, else ~/.cache/cxr. */
  cacheDir?: string;
  /** Where to download from (tests point this at a local server). */
  baseUrl?: string;
  /** true (default): progress line on stderr; false: silent; function: custom reporting. */
  progress?: boolean | ((done: number, total: number | undefined) => void);
  /** Give up when no byte arrives for this long (default 60 s); a firewall that drops packets would otherwise hang forever. */
  stallTimeoutMs?: number;
}

/** The hex digits torchvision puts after the last '-' in a weights file name. */
export function expectedHashPrefix(fileName: string): string {
  const m = /-([0-9a-f]{6,64})\.[a-z]+$/.exec(fileName);
  if (!m) throw new Error(`${fileName} has no SHA-256 prefix in its name`);
  return m[1];
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}

/** Downloads (or finds cached) torchvision weights for `arch`; resolves to the local path. */
export async function pullWeights(arch: PretrainedArch, options: PullOptions = {}): Promise<string> {
  const fileName = officialWeights[arch];
  if (!fileName) throw new Error(`no official weights for '${arch}' (known: ${Object.keys(officialWeights).join(', ')})`);
  const base = options.baseUrl ?? torchvisionBaseUrl;
  return pullVerifiedFile(`${base.replace(/\/$/, '')}/${fileName}`, fileName, options);
}

/**
 * Generic form of pullWeights: `fileName` must end in -<hex>.<ext>, the hex being a prefix of the
 * file's SHA-256. A cached file is re-verified before use.
 */
export async function pullVerifiedFile(url: string, fileName: string, options: PullOptions = {}): Promise<string> {
  const dir = options.cacheDir ?? cacheDir();
  const dest = join(dir, fileName);
  const want = expectedHashPrefix(fileName);
  if (existsSync(dest)) {
    const got = await sha256File(dest);
    if (!got.startsWith(want)) {
      throw new Error(
        `cached ${dest} has SHA-256 ${got}, which does not start with ${want}: it is corrupt or not the ` +
          `official file. Delete it and pull again, or replace it with a good copy from ${url}.`,
      );
    }
    return dest;
  }
  mkdirSync(dir, { recursive: true });
  const manual =
    `If this machine is offline, download ${url} on another machine and copy it to ${dest} ` +
    `(the cache directory is $CXR_CACHE, default $XDG_CACHE_HOME/cxr or ~/.cache/cxr); its SHA-256 must start with ${want}.`;
  // Abort when the server goes quiet (not after a fixed total time: VGG16 is 528 MB).
  const abort = new AbortController();
  const stallMs = options.stallTimeoutMs ?? 60_000;
  let stall = setTimeout(() => abort.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  const alive = () => {
    clearTimeout(stall);
    stall = setTimeout(() => abort.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  };
  let response: Response;
  try {
    response = await fetch(url, { signal: abort.signal });
  } catch (err) {
    clearTimeout(stall);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`could not download ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}). ${manual}`);
  }
  if (!response.ok || !response.body) {
    clearTimeout(stall);
    throw new Error(`could not download ${url}: HTTP ${response.status} ${response.statusText}. ${manual}`);
  }
  const total = Number(response.headers.get('content-length')) || undefined;
  const report = progressReporter(fileName, options.progress);
  const part = `${dest}.part-${process.pid}`;
  const fd = openSync(part, 'w');
  const hash = createHash('sha256');
  let done = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      alive();
      hash.update(chunk);
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
      done += chunk.length;
      report(done, total, false);
    }
    report(done, total, true);
    clearTimeout(stall);
    closeSync(fd);
  } catch (err) {
    clearTimeout(stall);
    closeSync(fd);
    rmSync(part, { force: true });
    throw new Error(`download of ${url} failed after ${done} bytes (${(err as Error).message}). ${manual}`);
  }
  if (total !== undefined && done !== total) {
    rmSync(part, { force: true });
    throw new Error(`download of ${url} stopped at ${done} of ${total} bytes. ${manual}`);
  }
  const got = hash.digest('hex');
  if (!got.startsWith(want)) {
    rmSync(part, { force: true });
    throw new Error(`checksum mismatch for ${url}: SHA-256 ${got} does not start with ${want}; the file was discarded.`);
  }
  renameSync(part, dest);
  return dest;
}

function progressReporter(label: string, progress: PullOptions['progress']): (done: number, total: number | undefined, final: boolean) => void {
  if (typeof progress === 'function') return (done, total) => progress(done, total);
  if (progress === false) return () => {};
  let last = 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return (done, total, final) => {
    const now = Date.now();
    if (!final && now - last < 250) return;
    last = now;
    const pct = total ? ` (${Math.floor((100 * done) / total)}%)` : '';
    process.stderr.write(`\rpull ${label}: ${mb(done)}${total ? `/${mb(total)}` : ''} MB${pct}${final ? '\n' : ''}`);
  };
}
