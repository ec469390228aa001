/**
 * A real Webdis (`/usr/bin/webdis`, Debian package `webdis`) the test starts
 * on a spare loopback port, with its JSON config in a temp dir, in front of
 * a Redis of the test's choosing. Runs on Node and on Deno.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sparePort } from "./redis_servers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One entry of Webdis's `acl` list. */
export interface WebdisAcl {
  http_basic_auth?: string;
  ip?: string;
  enabled?: string[];
  disabled?: string[];
}

/** A running Webdis. */
export interface OwnWebdis {
  readonly port: number;
  readonly url: string;
  /** Kill it (SIGKILL) and wait for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port with the same config. */
  start(): Promise<void>;
  /** Stop it and remove its temp dir. */
  dispose(): Promise<void>;
}

/** Start Webdis on a spare port, talking to Redis on 127.0.0.1:`redisPort`. */
export async function startWebdis(
  options: { redisPort?: number; acl?: WebdisAcl[] } = {},
): Promise<OwnWebdis> {
  if (spawnSync("sh", ["-c", "command -v webdis"]).status !== 0) {
    throw new Error(
      "webdis is not installed; install the Debian package (apt-get install webdis): " +
        "the Webdis tests start their own /usr/bin/webdis",
    );
  }
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "oak-sessions-webdis-"));
  const config = join(dir, "webdis.json");
  writeFileSync(
    config,
    JSON.stringify({
      redis_host: "127.0.0.1",
      redis_port: options.redisPort ?? 6379,
      redis_auth: null,
      http_host: "127.0.0.1",
      http_port: port,
      threads: 2,
      daemonize: false,
      database: 0,
      acl: options.acl ?? [{ disabled: ["DEBUG", "FLUSHDB", "FLUSHALL"] }],
      verbosity: 3,
      logfile: join(dir, "webdis.log"),
    }),
  );
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn("webdis", [config], { stdio: "ignore", cwd: dir });
    for (let i = 0; i < 100; i++) {
      try {
        // Any HTTP answer means it listens (503 when its Redis is down).
        const res = await fetch(`${url}/PING`);
        await res.body?.cancel();
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`webdis did not start on port ${port}`);
  };
  const stop = async () => {
    if (!child) return;
    const running = child;
    child = undefined;
    if (running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGKILL");
      await exited;
    }
  };
  await start();
  return {
    port,
    url,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
