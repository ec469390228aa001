/**
 * A real Webdis (`/usr/bin/webdis`, Debian package `webdis`) started on a
 * spare loopback port, with its JSON config in a temp dir, in front of a
 * Redis of the caller's choosing; and the HTTP clients `WebdisStore` can use.
 * Runs on Node, Deno and Bun.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WebdisTransportName } from "../../src/stores/webdis_transport.ts";
import { sparePort } from "./ports.ts";
import { type OwnService, requireBinary, track } from "./processes.ts";
import { stopChild, waitFor } from "./waiting.ts";

/** Both HTTP clients `WebdisStore` can use; every Webdis test runs with each. */
export const WEBDIS_TRANSPORTS: readonly WebdisTransportName[] = ["node:net", "fetch"];

/** One entry of Webdis's `acl` list. */
export interface WebdisAcl {
  http_basic_auth?: string;
  ip?: string;
  enabled?: string[];
  disabled?: string[];
}

/** Where Webdis finds its Redis, and how it serves. */
export interface WebdisOptions {
  /** Default 127.0.0.1. */
  redisHost?: string;
  /** Default 6379 (the shared Redis). */
  redisPort?: number;
  /** Authenticate to Redis with this password, as its default user. */
  redisAuth?: string;
  /** The Redis database its commands use (default 0). */
  database?: number;
  /** Default: DEBUG, FLUSHDB and FLUSHALL refused to everyone. */
  acl?: WebdisAcl[];
  /** Redis connections per thread (Webdis's default when not given). */
  poolSize?: number;
  /** Log verbosity (default 3); the log is in its temp dir. */
  verbosity?: number;
}

/** A running Webdis of its own. */
export interface OwnWebdis extends OwnService {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The same as `kill` (Webdis keeps no data). */
  stop(): Promise<void>;
}

/** Start Webdis on a spare loopback port; resolves once it answers HTTP. */
export async function startWebdis(options: WebdisOptions = {}): Promise<OwnWebdis> {
  requireBinary("webdis");
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-webdis-"));
  const config = join(dir, "webdis.json");
  writeFileSync(
    config,
    JSON.stringify({
      redis_host: options.redisHost ?? "127.0.0.1",
      redis_port: options.redisPort ?? 6379,
      redis_auth: options.redisAuth ?? null,
      http_host: "127.0.0.1",
      http_port: port,
      threads: 2,
      ...(options.poolSize === undefined ? {} : { pool_size: options.poolSize }),
      daemonize: false,
      database: options.database ?? 0,
      acl: options.acl ?? [{ disabled: ["DEBUG", "FLUSHDB", "FLUSHALL"] }],
      verbosity: options.verbosity ?? 3,
      logfile: join(dir, "webdis.log"),
    }),
  );
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const start = async () => {
    child = track(spawn("webdis", [config], { stdio: "ignore", cwd: dir }));
    // Any HTTP answer means it listens (503 when its Redis is down).
    await waitFor(async () => {
      const res = await fetch(`${url}/PING`);
      await res.body?.cancel();
      return true;
    }, { timeoutMs: 10_000, what: `webdis to answer on port ${port}` });
  };
  const stop = async () => {
    if (!child) return;
    const running = child;
    child = undefined;
    await stopChild(running, "SIGKILL");
  };
  await start();
  return {
    port,
    url,
    stop,
    kill: stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
