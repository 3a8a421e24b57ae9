// Serves a request listener over HTTPS with a certificate that reloads when its files change, or over plain HTTP.
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import tls from "node:tls";

/** An express app or any Node request listener. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface RunningServer<S extends http.Server | https.Server> {
  server: S;
  port: number;
  close(): Promise<void>;
}

export interface HttpsServerOptions {
  port: number;
  host?: string;
  certFile: string;
  keyFile: string;
  /** Called after each reload attempt that found changed files: no argument on success, the error otherwise. */
  onReload?: (err?: Error) => void;
  /** Quiet period after the last file event before re-reading; Secret updates touch several entries at once. */
  debounceMs?: number;
}

export interface ListenOptions {
  port: number;
  host?: string;
}

interface KeyPair {
  cert: string;
  key: string;
}

export async function startHttpsServer(
  app: RequestListener,
  opts: HttpsServerOptions,
): Promise<RunningServer<https.Server>> {
  let current = await readPair(opts.certFile, opts.keyFile);
  // Fail at start on a bad pair: the first context has nothing older to fall back to.
  tls.createSecureContext(current);
  const server = https.createServer({ ...current, minVersion: "TLSv1.2" }, app);

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Reloads run one after another so a slow read can never apply an older pair over a newer one.
  let reloading: Promise<void> = Promise.resolve();
  const reload = async (): Promise<void> => {
    try {
      const next = await readPair(opts.certFile, opts.keyFile);
      if (next.cert === current.cert && next.key === current.key) return;
      // Throws on unparsable PEM or a key that does not match the certificate; the old context then stays.
      server.setSecureContext({ ...next, minVersion: "TLSv1.2" });
      current = next;
      if (!closed) opts.onReload?.();
    } catch (error) {
      if (!closed) opts.onReload?.(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      reloading = reloading.then(reload);
    }, opts.debounceMs ?? 100);
  };

  // Kubernetes swaps a `..data` symlink inside the volume directory, which a watch on the file itself never sees.
  const watchers: FSWatcher[] = [...new Set([dirname(opts.certFile), dirname(opts.keyFile)])].map((dir) => {
    const watcher = watch(dir, { persistent: false }, schedule);
    watcher.on("error", (error) => opts.onReload?.(error));
    return watcher;
  });

  try {
    const port = await listen(server, opts);
    const stopServer = closeOnce(server);
    return {
      server,
      port,
      close: async () => {
        closed = true;
        clearTimeout(timer);
        for (const watcher of watchers) watcher.close();
        await stopServer();
        await reloading;
      },
    };
  } catch (error) {
    closed = true;
    for (const watcher of watchers) watcher.close();
    throw error;
  }
}

/** Plain HTTP, for a laptop or behind a TLS-terminating proxy. */
export async function startHttpServer(app: RequestListener, opts: ListenOptions): Promise<RunningServer<http.Server>> {
  const server = http.createServer(app);
  const port = await listen(server, opts);
  return { server, port, close: closeOnce(server) };
}

async function readPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { cert, key };
}

function listen(server: http.Server | https.Server, opts: ListenOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen(opts.port, opts.host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

// A second close() resolves with the first instead of failing with ERR_SERVER_NOT_RUNNING.
function closeOnce(server: http.Server | https.Server): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Keep-alive connections from the API server would otherwise hold close() open until they time out.
      server.closeAllConnections();
    });
    return closing;
  };
}
