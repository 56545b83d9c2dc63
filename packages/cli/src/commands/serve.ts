// `cxr serve [--run DIR]`: the browser viewer (packages/web) on http://127.0.0.1, optionally with a
// run's model preloaded. Localhost only: it binds 127.0.0.1 and refuses other Host headers, so
// neither the network nor a DNS-rebinding page can reach it. The page itself uploads nothing.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { modelSettings } from './evaluate.ts';
import { helpExamples } from './helpExamples.ts';
import { ConfigError } from '../config/configError.ts';
import { isPort, portOption } from './intOption.ts';

export interface ServeOptions {
  run?: string;
  port?: number;
  page?: string;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.safetensors': 'application/octet-stream',
};

/**
 * The page's Content-Security-Policy, sent as a header on every response: the same policy as the
 * <meta> tag in packages/web/index.html (the header also covers what a meta tag cannot:
 * frame-ancestors, and files other than index.html). Everything from this origin only, no remote
 * host, no inline script or style; images may be blob:/data: URLs made in the page; WebGPU needs
 * no CSP source. Nothing is fetched or posted anywhere else, so no X-ray can leave the machine.
 */
export const contentSecurityPolicy = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers on every response, errors included. */
const securityHeaders = {
  'Content-Security-Policy': contentSecurityPolicy,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/** packages/web/dist beside this package (src/commands or dist/commands alike), built on first use in a checkout and again when its sources change. */
function pageDir(given?: string): string {
  if (given) {
    if (!existsSync(join(given, 'index.html'))) throw new Error(`serve: --page ${given} has no index.html`);
    return resolve(given);
  }
  const web = fileURLToPath(new URL('../../../web/', import.meta.url));
  const dist = join(web, 'dist');
  const built = existsSync(join(dist, 'index.html'));
  if (built && !pageIsStale(web, join(dist, 'index.html'))) return dist;
  if (!existsSync(join(web, 'index.html'))) {
    if (built) return dist;
    throw new Error('serve: the viewer page is not installed here; build packages/web and pass --page DIR');
  }
  // An old build would classify with old preprocessing while `cxr predict` uses the new one.
  console.error(built ? 'serve: the viewer page is older than its sources: rebuilding packages/web…' : 'serve: building the viewer page (packages/web, once)…');
  const r = spawnSync(process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm', ['--dir', web, 'run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(join(dist, 'index.html')))
    throw new Error('serve: building packages/web failed (run `pnpm --filter @cxr/web build` to see why)');
  return dist;
}

/**
 * Whether a checkout's page build predates any source it bundles (the page itself and the
 * packages it imports), so that a fix in decoding or preprocessing reaches the page too.
 */
export function pageIsStale(web: string, builtIndex: string): boolean {
  const builtAt = statSync(builtIndex).mtimeMs;
  const roots = [join(web, 'index.html'), join(web, 'src'), ...['tensor', 'nn', 'models', 'data'].map((p) => join(web, '..', p, 'src'))];
  const newer = (path: string): boolean => {
    if (!existsSync(path)) return false;
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs > builtAt;
    return readdirSync(path).some((name) => newer(join(path, name)));
  };
  return roots.some(newer);
}

/** The query string that makes the page load the run's model with the run's settings. */
function runQuery(run: string): string {
  const s = modelSettings({ run });
  const q = new URLSearchParams({
    model: 'run/model.safetensors',
    arch: s.arch,
    head: s.head,
    classes: (s.classes ?? []).join(','),
    size: String(s.imageSize),
    filter: s.filter,
  });
  return `?${q}`;
}

/** Starts the server; resolves with its URL once it listens. */
export async function startServer(o: ServeOptions): Promise<{ url: string; server: Server }> {
  // Callers other than the CLI (whose --port parser already checks this) get the same one line.
  if (o.port !== undefined && !isPort(o.port))
    throw new ConfigError(`serve: --port must be a whole number from 0 to 65535 (0: any free one), got '${String(o.port)}'`);
  const root = pageDir(o.page);
  const model = o.run ? modelSettings({ run: o.run }).weights : null;
  const query = o.run ? runQuery(o.run) : '';
  const server = createServer((req, res) => {
    for (const [name, value] of Object.entries(securityHeaders)) res.setHeader(name, value);
    const port = (server.address() as { port: number }).port;
    if (req.headers.host !== `127.0.0.1:${port}` && req.headers.host !== `localhost:${port}`) {
      res.writeHead(421).end('serve: local requests only');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      // A malformed escape (%E0%A4%A) is the request's fault: answer it, keep serving.
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('serve: malformed URL');
      return;
    }
    let file: string | null;
    if (path === '/run/model.safetensors') file = model;
    else {
      const rel = normalize(path === '/' ? 'index.html' : path.slice(1));
      file = join(root, rel);
      if (rel.startsWith('..') || !file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) file = null;
    }
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'Content-Type': types[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cache-Control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  const wanted = o.port ?? 8023;
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        new Error(
          e.code === 'EADDRINUSE'
            ? `serve: port ${wanted} is in use: pick another with --port (0: any free one)`
            : e.code === 'EACCES'
              ? `serve: port ${wanted} needs privileges here: pick one above 1023 with --port`
              : `serve: cannot listen on 127.0.0.1:${wanted}: ${e.message}`,
        ),
      ),
    );
    server.listen(wanted, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/${query}`, server };
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('open the browser viewer on this machine (http://127.0.0.1 only; nothing is uploaded)')
    .option('--run <dir>', "preload this run's model.safetensors")
    .option('--port <n>', 'port (0: any free one)', portOption, 8023)
    .option('--page <dir>', 'a built viewer page (default: packages/web/dist)')
    .addHelpText('after', helpExamples(['cxr serve', 'cxr serve --run runs/vgg --port 0']))
    .action(async (o: ServeOptions) => {
      const { url, server } = await startServer(o);
      console.log(`CXR viewer: ${url}`);
      console.error('Open it in a browser with WebGPU (Chrome, Edge). Local only; Ctrl-C stops it.');
      await new Promise<void>((done) => {
        const stop = () => server.close(() => done());
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
