// `cxr serve`: the viewer's static server. Local only, only the page's files and the run's model.
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { pageIsStale, startServer } from '../src/commands/serve.ts';

let work: string;
let server: Server;
let url: URL;

/** A raw GET, so the Host header and the path go out exactly as given. */
function get(path: string, host = url.host): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: url.port, path, headers: { Host: host } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cxr-serve-'));
  const page = join(work, 'page');
  mkdirSync(join(page, 'assets'), { recursive: true });
  writeFileSync(join(page, 'index.html'), '<!doctype html><title>viewer</title>');
  writeFileSync(join(page, 'assets', 'app.js'), 'export {};');
  writeFileSync(join(work, 'secret.txt'), 'not for the browser');
  const run = join(work, 'run');
  mkdirSync(run);
  writeFileSync(join(run, 'config.json'), JSON.stringify({ arch: 'resnet18', head: 'mlp:64', imageSize: 96 }));
  writeFileSync(join(run, 'metrics.json'), JSON.stringify({ splits: { test: { classNames: ['covid', 'normal'] } } }));
  writeFileSync(join(run, 'model.safetensors'), new Uint8Array([1, 2, 3, 4]));
  const s = await startServer({ run, port: 0, page });
  server = s.server;
  url = new URL(s.url);
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  rmSync(work, { recursive: true, force: true });
});

describe('cxr serve', () => {
  it("listens on 127.0.0.1 only, and its URL preloads the run with the run's settings", () => {
    expect((server.address() as { address: string }).address).toBe('127.0.0.1');
    expect(url.hostname).toBe('127.0.0.1');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      model: 'run/model.safetensors',
      arch: 'resnet18',
      head: 'mlp:64',
      classes: 'covid,normal',
      size: '96',
      filter: 'bicubic',
    });
  });

  it("serves the page, its assets and the run's model", async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.body).toContain('<title>viewer</title>');
    expect((await get('/assets/app.js')).headers['content-type']).toMatch(/^text\/javascript/);
    const model = await get('/run/model.safetensors');
    expect(model.status).toBe(200);
    expect([...Buffer.from(model.body, 'latin1')]).toEqual([1, 2, 3, 4]);
  });

  it('refuses other hosts (DNS rebinding) and anything outside the page', async () => {
    expect((await get('/', 'evil.example:80')).status).toBe(421);
    expect((await get('/../secret.txt')).status).toBe(404);
    expect((await get('/%2e%2e/secret.txt')).status).toBe(404);
    expect((await get('/assets')).status).toBe(404);
    expect((await get('/nope.js')).status).toBe(404);
  });

  it('answers a malformed URL with 400 and keeps serving', async () => {
    expect((await get('/%E0%A4%A')).status).toBe(400);
    expect((await get('/')).status).toBe(200);
  });

  it('finds a page build older than any source it bundles', () => {
    const web = join(work, 'web');
    mkdirSync(join(web, 'src'), { recursive: true });
    mkdirSync(join(work, 'data', 'src', 'decode'), { recursive: true });
    writeFileSync(join(web, 'index.html'), '<!doctype html>');
    writeFileSync(join(web, 'src', 'main.ts'), '');
    const source = join(work, 'data', 'src', 'decode', 'jpeg.ts');
    writeFileSync(source, '');
    const built = join(work, 'built.html');
    writeFileSync(built, '');
    const t = Date.now() / 1000;
    for (const f of [join(web, 'index.html'), join(web, 'src', 'main.ts'), source]) utimesSync(f, t - 100, t - 100);
    utimesSync(built, t - 50, t - 50);
    expect(pageIsStale(web, built)).toBe(false);
    // A decoder fix after the build: the page would classify with the old decoder.
    utimesSync(source, t - 10, t - 10);
    expect(pageIsStale(web, built)).toBe(true);
  });

  it('sends a strict Content-Security-Policy, nosniff and no-referrer on every response', async () => {
    for (const [path, host, status] of [
      ['/', url.host, 200],
      ['/assets/app.js', url.host, 200],
      ['/run/model.safetensors', url.host, 200],
      ['/nope.js', url.host, 404],
      ['/%E0%A4%A', url.host, 400],
      ['/', 'evil.example:80', 421],
    ] as const) {
      const r = await get(path, host);
      expect(r.status, path).toBe(status);
      const csp = String(r.headers['content-security-policy']);
      const directives = Object.fromEntries(
        csp
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .map(([name, ...values]) => [name, values]),
      );
      expect(directives['default-src'], csp).toEqual(["'self'"]);
      expect(directives['script-src'], csp).toEqual(["'self'"]);
      expect(directives['style-src'], csp).toEqual(["'self'"]);
      expect(directives['connect-src'], csp).toEqual(["'self'"]);
      expect(directives['img-src'], csp).toEqual(["'self'", 'blob:', 'data:']);
      expect(directives['object-src'], csp).toEqual(["'none'"]);
      expect(directives['frame-ancestors'], csp).toEqual(["'none'"]);
      // No remote host and nothing that runs strings as code.
      expect(csp).not.toMatch(/https?:|\*|unsafe-inline|unsafe-eval/);
      expect(r.headers['x-content-type-options'], path).toBe('nosniff');
      expect(r.headers['referrer-policy'], path).toBe('no-referrer');
    }
  });

  it('refuses a port outside 0..65535 in one line naming --port', async () => {
    for (const port of [70000, -1, 1.5, Number.NaN]) {
      await expect(startServer({ port, page: join(work, 'page') })).rejects.toThrow(/^serve: --port must be a whole number from 0 to 65535/);
    }
  });

  it('says that the default port is taken, naming it', async () => {
    // Hold 8023 (or find it held already): either way the viewer cannot listen there.
    const holder = createServer();
    await new Promise<void>((ok) => {
      holder.once('error', () => ok());
      holder.listen(8023, '127.0.0.1', () => ok());
    });
    try {
      await expect(startServer({ page: join(work, 'page') })).rejects.toThrow(/^serve: port 8023 is in use: pick another with --port/);
    } finally {
      await new Promise((r) => (holder.listening ? holder.close(r) : r(null)));
    }
  });

  it('says which port is taken', async () => {
    await expect(startServer({ port: Number(url.port), page: join(work, 'page') })).rejects.toThrow(`serve: port ${url.port} is in use`);
  });
});
