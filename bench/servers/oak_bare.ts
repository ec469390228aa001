/**
 * Bare Oak: the same routes and bodies as the session servers, no sessions.
 *
 * @module
 */
import { Application } from "@oakserver/oak";
import { serve } from "../../test/helpers/oak_server.ts";
import { announce, BARE_BODIES, NOT_FOUND } from "./common.ts";

const app = new Application({ logErrors: false });
app.use((ctx) => {
  const body = BARE_BODIES[ctx.request.url.pathname];
  if (body === undefined) ctx.response.status = 404;
  ctx.response.body = body ?? NOT_FOUND;
});

const server = await serve(app);
announce(server.port, () => server.close());
