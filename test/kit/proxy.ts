/**
 * A TCP proxy on a free loopback port in front of a real server (PostgreSQL,
 * MariaDB): the fault a test injects to make the database go away, or hang,
 * while the shared server itself is never stopped. Runs on Node, Deno and Bun.
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * `cut()` closes every connection and refuses new ones (the server "went
 * away"); `restore()` accepts again on the same port. `hang()` keeps every
 * socket open but stops passing bytes (a server that does not answer);
 * `resume()` passes them again.
 */
export interface CuttableProxy {
  /** The loopback port clients connect to (the same after `restore()`). */
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  hang(): void;
  resume(): void;
  close(): Promise<void>;
}

/** Start a {@link CuttableProxy} to `targetHost`:`targetPort`. */
export async function startCuttableProxy(
  targetPort: number,
  targetHost = "127.0.0.1",
): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let hung = false;
  let port = 0;
  let server: Server | undefined;
  const pair = (client: Socket) => {
    const upstream = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        if (!hung) return pair(client);
        sockets.add(client);
        client.on("error", () => client.destroy());
        held.push(() => pair(client));
      });
      s.on("error", reject);
      s.listen(port, "127.0.0.1", () => {
        const address = s.address();
        if (typeof address === "object" && address) port = address.port;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      held.length = 0;
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    restore: listen,
    hang() {
      hung = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      hung = false;
      for (const s of sockets) s.resume();
      for (const go of held.splice(0)) go();
    },
    close: stop,
  };
}
