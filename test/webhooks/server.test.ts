// The TLS server: real handshakes against the generated CA, and certificate rotation without a restart.
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import express from "express";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { generateCa, generateServingCert, type PemPair, type ServingCert } from "../../webhooks/certs/certs.ts";
import { type RunningServer, startHttpServer, startHttpsServer } from "../../webhooks/http/server.ts";

interface Answer {
  status: number;
  body: string;
  serial: string;
}

const hello = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
  res.setHeader("content-type", "text/plain");
  res.end("ok");
};

// A new connection per call (agent: false), so each request runs its own handshake and sees the current certificate.
function get(port: number, ca: string, path = "/healthz"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: "127.0.0.1", port, path, ca, agent: false }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber.toLowerCase();
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, serial }));
    });
    req.on("error", reject);
  });
}

describe("startHttpsServer", () => {
  let ca: PemPair;
  let first: ServingCert;
  let second: ServingCert;
  let dir: string;
  let running: RunningServer<https.Server> | undefined;
  const local = { service: "greenlight-webhook", namespace: "greenlight-system", ipAddresses: ["127.0.0.1"] };

  beforeAll(() => {
    ca = generateCa();
    first = generateServingCert(ca, local);
    second = generateServingCert(ca, local);
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "greenlight-tls-"));
  });

  afterEach(async () => {
    await running?.close();
    running = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function writePair(pair: PemPair, into = dir): Promise<void> {
    await writeFile(join(into, "tls.crt"), pair.certPem);
    await writeFile(join(into, "tls.key"), pair.keyPem);
  }

  it("serves over TLS with a certificate the generated CA vouches for, on an ephemeral port", async () => {
    await writePair(first);
    running = await startHttpsServer(hello, {
      port: 0,
      host: "127.0.0.1",
      certFile: join(dir, "tls.crt"),
      keyFile: join(dir, "tls.key"),
    });
    expect(running.port).toBeGreaterThan(0);
    const answer = await get(running.port, ca.certPem);
    expect(answer).toEqual({ status: 200, body: "ok", serial: first.serialNumber });
    // A client that trusts another CA must refuse the handshake.
    await expect(get(running.port, generateCa().certPem)).rejects.toThrow(/self-signed|unable to verify|certificate/i);
  });

  it("switches new connections to a new pair written over the files", async () => {
    await writePair(first);
    const onReload = vi.fn();
    running = await startHttpsServer(hello, {
      port: 0,
      host: "127.0.0.1",
      certFile: join(dir, "tls.crt"),
      keyFile: join(dir, "tls.key"),
      onReload,
    });
    const port = running.port;
    expect((await get(port, ca.certPem)).serial).toBe(first.serialNumber);

    await writePair(second);
    await vi.waitFor(async () => expect((await get(port, ca.certPem)).serial).toBe(second.serialNumber), {
      timeout: 5_000,
      interval: 50,
    });
    expect(onReload).toHaveBeenLastCalledWith();
  });

  it("follows a Kubernetes Secret volume, where only the ..data symlink is swapped", async () => {
    // The kubelet's atomic writer: files link through ..data into a timestamped directory that is replaced whole.
    await mkdir(join(dir, "..v1"));
    await writePair(first, join(dir, "..v1"));
    await symlink("..v1", join(dir, "..data"));
    await symlink("..data/tls.crt", join(dir, "tls.crt"));
    await symlink("..data/tls.key", join(dir, "tls.key"));
    running = await startHttpsServer(hello, {
      port: 0,
      host: "127.0.0.1",
      certFile: join(dir, "tls.crt"),
      keyFile: join(dir, "tls.key"),
    });
    const port = running.port;
    expect((await get(port, ca.certPem)).serial).toBe(first.serialNumber);

    await mkdir(join(dir, "..v2"));
    await writePair(second, join(dir, "..v2"));
    await symlink("..v2", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await vi.waitFor(async () => expect((await get(port, ca.certPem)).serial).toBe(second.serialNumber), {
      timeout: 5_000,
      interval: 50,
    });
  });

  it("keeps serving the old certificate when the new files do not form a pair, and reports why", async () => {
    await writePair(first);
    const errors: Error[] = [];
    running = await startHttpsServer(hello, {
      port: 0,
      host: "127.0.0.1",
      certFile: join(dir, "tls.crt"),
      keyFile: join(dir, "tls.key"),
      onReload: (err) => {
        if (err) errors.push(err);
      },
    });
    const port = running.port;

    // The second certificate with the first key: each file is valid PEM, the two do not match.
    await writeFile(join(dir, "tls.crt"), second.certPem);
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000, interval: 20 });
    expect(errors[0]?.message).toMatch(/key values mismatch|private key/i);
    expect((await get(port, ca.certPem)).serial).toBe(first.serialNumber);

    await writeFile(join(dir, "tls.key"), "not a key");
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(1), { timeout: 5_000, interval: 20 });
    expect((await get(port, ca.certPem)).serial).toBe(first.serialNumber);

    // A good pair afterwards is picked up as usual.
    await writePair(second);
    await vi.waitFor(async () => expect((await get(port, ca.certPem)).serial).toBe(second.serialNumber), {
      timeout: 5_000,
      interval: 50,
    });
  });

  it("refuses to start on a pair that does not match", async () => {
    await writeFile(join(dir, "tls.crt"), first.certPem);
    await writeFile(join(dir, "tls.key"), second.keyPem);
    await expect(
      startHttpsServer(hello, { port: 0, certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") }),
    ).rejects.toThrow();
    await expect(
      startHttpsServer(hello, { port: 0, certFile: join(dir, "missing.crt"), keyFile: join(dir, "tls.key") }),
    ).rejects.toThrow(/ENOENT/);
  });

  it("closes even with a keep-alive connection open, and tolerates a second close", async () => {
    await writePair(first);
    const server = await startHttpsServer(hello, {
      port: 0,
      host: "127.0.0.1",
      certFile: join(dir, "tls.crt"),
      keyFile: join(dir, "tls.key"),
    });
    const agent = new https.Agent({ keepAlive: true, ca: ca.certPem });
    await new Promise<void>((resolve, reject) => {
      https
        .get({ host: "127.0.0.1", port: server.port, path: "/", agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
        .on("error", reject);
    });
    await server.close();
    await server.close();
    agent.destroy();
    expect(server.server.listening).toBe(false);
  });
});

describe("startHttpServer", () => {
  it("serves plain HTTP on an ephemeral port", async () => {
    const running = await startHttpServer(hello, { port: 0, host: "127.0.0.1" });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port: running.port, path: "/" }, (res) => {
            let text = "";
            res.on("data", (chunk: Buffer) => {
              text += chunk.toString("utf8");
            });
            res.on("end", () => resolve(text));
          })
          .on("error", reject);
      });
      expect(body).toBe("ok");
    } finally {
      await running.close();
    }
  });

  it("accepts an express app as the request listener", async () => {
    const app = express();
    app.get("/healthz", (_req, res) => {
      res.json({ status: "ok" });
    });
    const running = await startHttpServer(app, { port: 0, host: "127.0.0.1" });
    try {
      const response = await fetch(`http://127.0.0.1:${running.port}/healthz`);
      expect(await response.json()).toEqual({ status: "ok" });
    } finally {
      await running.close();
    }
  });

  it("rejects when the port is taken", async () => {
    const running = await startHttpServer(hello, { port: 0, host: "127.0.0.1" });
    try {
      await expect(startHttpServer(hello, { port: running.port, host: "127.0.0.1" })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await running.close();
    }
  });
});
