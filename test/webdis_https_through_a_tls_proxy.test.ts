/**
 * WebdisStore over `https://`, as the README recommends across a network:
 * a real TLS terminator (node:tls, with a certificate for 127.0.0.1 from a
 * CA that `openssl` makes here) in front of a real Webdis. The store runs in
 * a child process that trusts that CA (`NODE_EXTRA_CA_CERTS` on
 * Node, `DENO_CERT` on Deno), once per transport (`node:net` with node:tls, and
 * `fetch`), writes and reads a session, and exits by itself.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createServer, type Server } from "node:tls";
import { fileURLToPath } from "node:url";
import { sparePort } from "./kit/ports.ts";
import { requireSharedRedis } from "./kit/redis.ts";
import { type OwnWebdis, startWebdis, WEBDIS_TRANSPORTS } from "./kit/webdis.ts";
import { uniquePrefix } from "./helpers/redis_targets.ts";

function runChild(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const file = fileURLToPath(new URL("./helpers/webdis_idle_child.ts", import.meta.url));
  const deno = "Deno" in globalThis;
  const args = deno ? ["run", "-A", "--no-check", file] : ["--import", "tsx", file];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (c) => out += c);
  child.stderr!.on("data", (c) => out += c);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the child did not finish in 30 s: ${out}`));
    }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("Webdis over https, through a TLS terminator", () => {
  let webdis: OwnWebdis;
  let dir: string;
  let tls: Server;
  let port: number;
  let handshakes = 0;
  const sockets = new Set<Socket>();
  before(async () => {
    await requireSharedRedis();
    webdis = await startWebdis({ redisPort: 6379 });
    dir = mkdtempSync(join(tmpdir(), "oak-sessions-tls-"));
    // A CA and a server certificate it signs (rustls, under Deno, refuses a
    // self-signed certificate used as the server's own).
    const file = (name: string) => join(dir, name);
    writeFileSync(
      file("ext.cnf"),
      "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    const steps: string[][] = [
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=oak-sessions test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
        "-keyout",
        file("ca.key"),
        "-out",
        file("ca.pem"),
      ],
      [
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        file("key.pem"),
        "-out",
        file("server.csr"),
      ],
      [
        "x509",
        "-req",
        "-in",
        file("server.csr"),
        "-CA",
        file("ca.pem"),
        "-CAkey",
        file("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        file("ext.cnf"),
        "-out",
        file("cert.pem"),
      ],
    ];
    for (const args of steps) {
      const made = spawnSync("openssl", args);
      assert.equal(made.status, 0, `openssl ${args[0]} failed: ${made.stderr}`);
    }
    tls = createServer({
      key: readFileSync(join(dir, "key.pem")),
      cert: readFileSync(join(dir, "cert.pem")),
    }, (client) => {
      handshakes++;
      const upstream = connect({ host: "127.0.0.1", port: webdis.port });
      sockets.add(client);
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on("close", end);
      upstream.on("close", end);
      client.on("error", () => {});
      upstream.on("error", () => {});
    });
    port = await sparePort();
    await new Promise<void>((resolve) => tls.listen(port, "127.0.0.1", resolve));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => tls?.close(() => resolve()));
    await webdis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of WEBDIS_TRANSPORTS) {
    it(`${transport}: a session is written and read over TLS`, async () => {
      const before = handshakes;
      const cert = join(dir, "ca.pem");
      const { code, out } = await runChild({
        WEBDIS_URL: `https://127.0.0.1:${port}`,
        WEBDIS_PREFIX: uniquePrefix("wdtls"),
        WEBDIS_TRANSPORT: transport,
        NODE_EXTRA_CA_CERTS: cert,
        DENO_CERT: cert,
      });
      assert.equal(code, 0, out);
      assert.match(out, new RegExp(`done ${transport}`));
      assert.ok(handshakes > before, "the child spoke TLS to the terminator");
    });
  }
});
