/**
 * A real Oak app over real HTTP with the session middleware in front of a
 * given store, for the Redis and Webdis tests. Runs on Node and on Deno.
 *
 * Routes: `POST /set` (JSON object body: each key set), `GET /get` (the
 * session's data as JSON), `POST /destroy`. A store failure answers with
 * the error's status (503 for `SessionStoreError`) and its class name.
 *
 * @module
 */
import { Application, Router } from "@oakserver/oak";
import { Session } from "../../src/session.ts";
import type { SessionOptions } from "../../src/options.ts";
import type { SessionStore } from "../../src/store.ts";
import { CookieClient } from "../kit/http_client.ts";
import { serve } from "../kit/oak_server.ts";

/** A running app. */
export interface SessionApp {
  readonly url: string;
  /** A new browser-like client with its own cookies. */
  client(): CookieClient;
  /** Stop listening (and let the process exit). */
  close(): Promise<void>;
}

/** Start the app on a free loopback port. */
export async function startSessionApp(
  store: SessionStore,
  options: SessionOptions = {},
): Promise<SessionApp> {
  const app = new Application();
  app.addEventListener("error", () => {});
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      ctx.response.status = typeof status === "number" ? status : 500;
      ctx.response.body = `error ${(error as Error).name}`;
    }
  });
  app.use(Session.initMiddleware(store, options));
  const router = new Router();
  router.post("/set", async (ctx) => {
    const body = await ctx.request.body.json();
    for (const [k, v] of Object.entries(body)) ctx.state.session.set(k, v);
    ctx.response.body = "ok";
  });
  router.get("/get", (ctx) => {
    ctx.response.type = "application/json";
    ctx.response.body = JSON.stringify(ctx.state.session.all());
  });
  router.post("/destroy", async (ctx) => {
    await ctx.state.session.deleteSession();
    ctx.response.body = "ok";
  });
  app.use(router.routes());
  const server = await serve(app);
  return {
    url: server.url,
    close: async () => {
      server.close();
      // Oak on Node only closes its server once a request arrives after the abort: send one.
      try {
        const res = await fetch(`${server.url}/closing`);
        await res.body?.cancel();
      } catch {
        // Already closed (Deno closes at once).
      }
    },
    client: () => new CookieClient(server.url),
  };
}
