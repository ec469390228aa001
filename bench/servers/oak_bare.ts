/**
 * Bare Oak: the same routes and bodies as the session servers, no sessions.
 * Runs on Node (`node --import tsx`) and on Deno (`deno run`).
 *
 * @module
 */
import { serve } from "../../test/kit/oak_server.ts";
import { announce, BARE_BODIES, NOT_FOUND } from "./common.ts";
import { oakApplication } from "./oak_app.ts";

const app = oakApplication();
app.use((ctx) => {
  const body = BARE_BODIES[ctx.request.url.pathname];
  if (body === undefined) ctx.response.status = 404;
  ctx.response.body = body ?? NOT_FOUND;
});

const server = await serve(app);
announce(server.port, () => server.close());
