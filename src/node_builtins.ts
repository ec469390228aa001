/**
 * Node's built-in `node:crypto` and `node:http`, where the runtime has them.
 *
 * Why this module exists: on a request path, Web Crypto's calls are
 * asynchronous (each one hops to a thread pool) and Node's `fetch` costs
 * hundreds of microseconds of CPU per call, several times what the
 * synchronous `node:crypto` and a keep-alive `node:http` agent cost. Node,
 * Deno and Bun all provide these modules; browsers and some edge workers do
 * not. `process.getBuiltinModule` (Node 20.16+, Deno 2, Bun) asks for them
 * without an import statement, so the library still loads where they are
 * missing and bundlers meet no `node:` import. Where a module is missing,
 * its users fall back to Web Crypto and `fetch`, which stay tested.
 *
 * This is the only place that looks for them.
 *
 * @module
 */

/** `node:crypto`, as typed by the runtime. */
export type NodeCrypto = typeof import("node:crypto");
/** `node:http`, as typed by the runtime. */
export type NodeHttp = typeof import("node:http");
/** `node:https`, as typed by the runtime. */
export type NodeHttps = typeof import("node:https");

interface ProcessLike {
  getBuiltinModule?: (id: string) => unknown;
}

function builtin<T>(id: string): T | undefined {
  try {
    const proc = (globalThis as { process?: ProcessLike }).process;
    const found = proc?.getBuiltinModule?.(id);
    return found === null || found === undefined ? undefined : found as T;
  } catch {
    // A runtime that has the lookup but refuses this module: use the fallback.
    return undefined;
  }
}

/** `node:crypto` where the runtime has it, else `undefined` (use Web Crypto). */
export const nodeCrypto: NodeCrypto | undefined = builtin<NodeCrypto>("node:crypto");

/** `node:http` where the runtime has it, else `undefined` (use `fetch`). */
export const nodeHttp: NodeHttp | undefined = builtin<NodeHttp>("node:http");

/** `node:https` where the runtime has it, else `undefined` (use `fetch`). */
export const nodeHttps: NodeHttps | undefined = builtin<NodeHttps>("node:https");

/**
 * Whether this is Node.js itself, not a runtime that also offers `node:`
 * modules. Deno and Bun report a `process.versions.node` too, but there
 * their `node:http` client is a compatibility layer over the runtime's own
 * HTTP client, and `fetch` is the native fast path; on Node it is the other
 * way round (its `fetch`, undici, costs several times a keep-alive
 * `node:http` request). So an HTTP client should take `node:http` only
 * where this is true.
 */
export const isNode: boolean = (() => {
  const g = globalThis as {
    Deno?: unknown;
    Bun?: unknown;
    process?: { release?: { name?: unknown } };
    navigator?: { userAgent?: unknown };
  };
  if (g.Deno !== undefined || g.Bun !== undefined) return false;
  if (g.process?.release?.name !== "node") return false;
  // Node 21+ has a navigator; workers that emulate `process` name themselves there.
  const agent = g.navigator?.userAgent;
  return typeof agent !== "string" || agent.startsWith("Node.js");
})();
