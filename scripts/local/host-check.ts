// The local stack answers only requests addressed to it by name: a DNS-rebinding guard for the page and the admin API.
/*
 * A page on evil.example can make its own name resolve to 127.0.0.1 a moment after loading; the browser then sends
 * that page's requests to this machine as same-origin, with `Host: evil.example:PORT`. Its scripts could read the
 * page's state or, with a token found anywhere, drive the admin API. Refusing every Host that is not an address this
 * stack answers on (loopback, the bind address, --public-host) closes that, since the Host header is what the
 * browser believes the origin to be and scripts cannot set it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestListener } from "../../webhooks/http/server.ts";
import { urlHost } from "./settings.ts";

/**
 * The Host values accepted on `port`: each name as `name:port` (IPv6 in brackets), and the bare name too on port
 * 80, where browsers leave the port out. Lower case: host names compare case-insensitively.
 */
export function acceptedHosts(names: readonly string[], port: number): string[] {
  const accepted = names.map((name) => urlHost(name, port).toLowerCase());
  if (port === 80) accepted.push(...accepted.map((host) => host.replace(/:80$/, "")));
  return [...new Set(accepted)];
}

/** Why `host` (the Host header) is refused on `port`, or undefined when it names this server. */
export function hostProblem(host: string | undefined, names: readonly string[], port: number): string | undefined {
  const accepted = acceptedHosts(names, port);
  if (host !== undefined && accepted.includes(host.trim().toLowerCase())) return undefined;
  const given = host === undefined ? "no Host header" : `Host header ${JSON.stringify(host)}`;
  return (
    `${given} does not name this server; accepted: ${accepted.join(", ")} ` +
    "(other names are refused against DNS rebinding; pass --public-host to add the one you use)"
  );
}

/**
 * The path as the flags handler will route it (node.ts prefixes the raw URL with `http://localhost`), so that
 * `/./admin/flags` or `/%2e/admin/flags` is checked like `/admin/flags`; an unparseable URL is checked too.
 */
export function routedPath(rawUrl: string | undefined): string | undefined {
  try {
    return new URL(`http://localhost${rawUrl ?? "/"}`).pathname;
  } catch {
    return undefined;
  }
}

/** The flags server's paths that skip the check: OFREP and health, which a pod or container may call by any name. */
export function flagsPathNeedsHostCheck(path: string | undefined): boolean {
  if (path === undefined) return true;
  return !(path.startsWith("/ofrep/") || /^\/(?:flags\/)?healthz\/?$/.test(path));
}

/**
 * Wraps a listener so a request whose Host is not one of `names` on the port it came in on is answered 421
 * Misdirected Request (this server is not the one the client meant) without reaching `listener`.
 */
export function withHostCheck(
  listener: RequestListener,
  names: readonly string[],
  needsCheck: (path: string | undefined) => boolean = () => true,
): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!needsCheck(routedPath(req.url))) {
      listener(req, res);
      return;
    }
    // The socket's own port: with port 0 the number is only known once listening, and this is the one dialled.
    const problem = hostProblem(req.headers.host, names, req.socket.localPort ?? 0);
    if (problem === undefined) {
      listener(req, res);
      return;
    }
    const body = JSON.stringify({ error: problem });
    res.writeHead(421, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    });
    res.end(body);
  };
}
