/**
 * Bare Express: the same routes and bodies as express_session.ts, no sessions.
 *
 * @module
 */
import type { AddressInfo } from "node:net";
import { announce, BARE_BODIES, NOT_FOUND } from "./common.ts";
import { express } from "./untyped.ts";

const app = express();
app.disable("x-powered-by");
for (const [path, body] of Object.entries(BARE_BODIES)) {
  app.get(path, (_req, res) => res.send(body));
}
app.use((_req, res) => res.status(404).send(NOT_FOUND));

const server = app.listen(0, "127.0.0.1", () => {
  announce((server.address() as AddressInfo).port, () => void server.close());
});
