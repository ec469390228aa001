/**
 * The Oak application every Oak benchmark server starts from, on Node, Deno
 * and Bun: on Deno it serves on `Deno.serve` (bench/servers/deno_serve.ts),
 * as Oak does for a Deno user, rather than on npm Oak's default there,
 * Deno's `node:http` compatibility layer. On Bun, npm Oak serves on
 * `Bun.serve` by itself.
 *
 * @module
 */
import { Application, type ServerConstructor } from "@oakserver/oak";
import type { NativeRequest } from "@oakserver/oak";
import { deno, DenoServeServer } from "./deno_serve.ts";

/** The runtime the server runs on, for its `PORT` line and the report. */
export const RUNTIME: "deno" | "bun" | "node" = deno
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** A new Oak application, on the runtime's native HTTP server. */
// deno-lint-ignore no-explicit-any
export function oakApplication(): Application<any> {
  return new Application({
    logErrors: false,
    ...(deno
      // Oak's contract is structural; its types name undici's Headers and Response.
      ? { serverConstructor: DenoServeServer as unknown as ServerConstructor<NativeRequest> }
      : {}),
  });
}
