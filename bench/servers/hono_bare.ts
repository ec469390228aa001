/**
 * Bare Hono on @hono/node-server: the same routes and bodies as
 * hono_sessions.ts, no sessions.
 *
 * @module
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { announce, BARE_BODIES, NOT_FOUND } from "./common.ts";

const app = new Hono();
for (const [path, body] of Object.entries(BARE_BODIES)) app.get(path, (c) => c.text(body));
app.notFound((c) => c.text(NOT_FOUND, 404));

const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
  announce(info.port, () => void server.close());
});
