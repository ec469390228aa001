/**
 * Loopback ports for the servers the tests, the stress suite and the
 * benchmarks start. Runs on Node, Deno and Bun (through `node:net`).
 *
 * - `freePort()`: a port the kernel picks (its ephemeral range). Enough for a
 *   server started once; Oak needs it because it reports back the port it was
 *   asked for, so 0 will not do.
 * - `sparePort()`: a port in 20000-29999, below the ephemeral range, for a
 *   server that is stopped and started again on the same port (a client socket
 *   cannot take it in between), or a port where nothing must listen.
 *
 * @module
 */
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether nothing listens on 127.0.0.1:`port` now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

// Ports this process handed out: never handed out twice, even once free again.
const handedOut = new Set<number>();

/**
 * A port in 20000-29999 that is free now and was not handed out before in
 * this process. With `busPort`, port + 10000 (a Redis Cluster node's bus) is
 * free too.
 */
export async function sparePort(busPort = false): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (handedOut.has(port) || !(await portIsFree(port))) continue;
    if (busPort && !(await portIsFree(port + 10000))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error("no spare loopback port found in 20000-29999");
}
