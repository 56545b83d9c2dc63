// `cxr weights pull`: download with SHA-256-prefix check and caching, against a local HTTP
// server (tests never touch the network), plus the offline message.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedHashPrefix, officialWeights, pullVerifiedFile, pullWeights } from '../src/weights/index.ts';

const payload = new Uint8Array(300_000).map((_, i) => (i * 7919) & 0xff);
const prefix = createHash('sha256').update(payload).digest('hex').slice(0, 8);
const goodName = `tiny-${prefix}.pth`;

let server: Server;
let base = '';
let requests = 0;
const root = mkdtempSync(join(tmpdir(), 'cxr-pull-'));

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    if (req.url === '/stall-abcdef12.pth') {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(payload.subarray(0, 10)); // then nothing: a dead connection
      return;
    }
    if (req.url === `/${goodName}` || req.url === `/${officialWeights.resnet18}`) {
      res.writeHead(200, { 'content-length': payload.length });
      res.end(payload);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(root, { recursive: true, force: true });
});

describe('pullWeights', () => {
  it('knows the hash prefix of the official files', () => {
    expect(expectedHashPrefix(officialWeights.resnet18)).toBe('f37072fd');
    expect(expectedHashPrefix(officialWeights.vgg16)).toBe('397923af');
  });

  it('downloads, verifies, reports progress and then serves from the cache', async () => {
    const cacheDir = join(root, 'ok');
    const seen: number[] = [];
    const path = await pullVerifiedFile(`${base}/${goodName}`, goodName, { cacheDir, progress: (done) => seen.push(done) });
    expect(path).toBe(join(cacheDir, goodName));
    expect(new Uint8Array(readFileSync(path))).toEqual(payload);
    expect(seen.at(-1)).toBe(payload.length);
    const before = requests;
    expect(await pullVerifiedFile(`${base}/${goodName}`, goodName, { cacheDir, progress: false })).toBe(path);
    expect(requests).toBe(before); // cached: no second download
  });

  it('discards a download whose SHA-256 does not match the name', async () => {
    const cacheDir = join(root, 'mismatch');
    // The local server returns our payload for resnet18's official name: wrong hash.
    await expect(pullWeights('resnet18', { cacheDir, baseUrl: base, progress: false })).rejects.toThrow(
      /checksum mismatch .* does not start with f37072fd; the file was discarded/,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('rejects a corrupt cached file instead of loading it', async () => {
    const cacheDir = join(root, 'corrupt');
    await pullVerifiedFile(`${base}/${goodName}`, goodName, { cacheDir, progress: false });
    writeFileSync(join(cacheDir, goodName), 'garbage');
    await expect(pullVerifiedFile(`${base}/${goodName}`, goodName, { cacheDir })).rejects.toThrow(
      new RegExp(`cached .*${goodName} has SHA-256 .* does not start with ${prefix}`),
    );
  });

  it('offline: says where to put a manually downloaded file', async () => {
    const cacheDir = join(root, 'offline');
    // Port 1 on localhost refuses connections: the same code path as having no network.
    const err = await pullWeights('vgg16', { cacheDir, baseUrl: 'http://127.0.0.1:1', progress: false }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain('could not download http://127.0.0.1:1/vgg16-397923af.pth');
    expect(msg).toContain(`copy it to ${join(cacheDir, 'vgg16-397923af.pth')}`);
    expect(msg).toContain('SHA-256 must start with 397923af');
    expect(existsSync(join(cacheDir, 'vgg16-397923af.pth'))).toBe(false);
  });

  it('reports HTTP errors with the same advice', async () => {
    await expect(pullVerifiedFile(`${base}/missing-abcdef12.pth`, 'missing-abcdef12.pth', { cacheDir: join(root, 'http') })).rejects.toThrow(
      /HTTP 404.*If this machine is offline/,
    );
  });

  it('gives up on a stalled download instead of hanging, and keeps no partial file', async () => {
    const cacheDir = join(root, 'stall');
    await expect(pullVerifiedFile(`${base}/stall-abcdef12.pth`, 'stall-abcdef12.pth', { cacheDir, progress: false, stallTimeoutMs: 300 })).rejects.toThrow(
      /download of .*stall-abcdef12\.pth failed after 10 bytes.*If this machine is offline/,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('uses $CXR_CACHE when no cacheDir is given', async () => {
    const old = process.env.CXR_CACHE;
    process.env.CXR_CACHE = join(root, 'env');
    try {
      const path = await pullVerifiedFile(`${base}/${goodName}`, goodName, { progress: false });
      expect(path).toBe(join(root, 'env', goodName));
    } finally {
      if (old === undefined) delete process.env.CXR_CACHE;
      else process.env.CXR_CACHE = old;
    }
  });
});
