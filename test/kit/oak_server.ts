/**
 * A real Oak application on a real loopback port. Runs on Node, Deno and Bun.
 *
 * @module
 */
import type { Application } from "@oakserver/oak";
// The tests name Oak "@oakserver/oak", as the npm package's users do: type ctx.session for it.
import "../../src/oak_context_oakserver.ts";
import { freePort } from "./ports.ts";
import { waitForPort } from "./waiting.ts";

/** A running server. */
export interface RunningServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The same as `url` (what a browser calls it). */
  readonly origin: string;
  readonly port: number;
  /**
   * Stop listening. Awaiting it is optional: under Deno, npm Oak's listen
   * promise never settles after an abort, so nothing waits for that.
   */
  close(): Promise<void>;
}

/**
 * Serve `app` on a free loopback port; resolves once it accepts connections.
 * (Oak reports back the port it was asked for, so a free one is picked first.)
 */
// deno-lint-ignore no-explicit-any
export async function serve(app: Application<any>): Promise<RunningServer> {
  const port = await freePort();
  const controller = new AbortController();
  await new Promise<void>((resolve, reject) => {
    app.addEventListener("listen", () => resolve(), { once: true });
    app.listen({ port, hostname: "127.0.0.1", signal: controller.signal }).catch(reject);
  });
  // Under Deno the "listen" event can come before the socket accepts connections.
  await waitForPort(port);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    origin: url,
    port,
    close: async () => {
      controller.abort();
      // npm Oak on Node acts on the abort only when its next request arrives
      // (it then closes the Node server); Deno's server stops at once, and
      // this request simply fails.
      try {
        const res = await fetch(url, { headers: { connection: "close" } });
        await res.body?.cancel();
      } catch {
        // Already closed.
      }
    },
  };
}
