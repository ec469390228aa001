/**
 * Node's built-in `node:crypto`, `node:net`, `node:tls` and `node:buffer`,
 * where the runtime has them.
 *
 * Why this module exists: on a request path, Web Crypto's calls are
 * asynchronous (each one hops to a thread pool) and Node's `fetch` costs
 * hundreds of microseconds of CPU per call (its `node:http` client about
 * 90), several times what the synchronous `node:crypto` and HTTP/1.1 written
 * straight to a kept-alive `node:net`/`node:tls` socket cost (with
 * `node:buffer` to parse the answer). Node,
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
/** `node:net`, as typed by the runtime. */
export type NodeNet = typeof import("node:net");
/** `node:tls`, as typed by the runtime. */
export type NodeTls = typeof import("node:tls");
/** `node:buffer`, as typed by the runtime. */
export type NodeBuffer = typeof import("node:buffer");

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

/** `node:net` where the runtime has it, else `undefined` (use `fetch`). */
export const nodeNet: NodeNet | undefined = builtin<NodeNet>("node:net");

/** `node:tls` where the runtime has it, else `undefined` (use `fetch` for https). */
export const nodeTls: NodeTls | undefined = builtin<NodeTls>("node:tls");

/** `node:buffer` where the runtime has it, else `undefined` (use `fetch`). */
export const nodeBuffer: NodeBuffer | undefined = builtin<NodeBuffer>("node:buffer");

/**
 * Whether this is Node.js itself, not a runtime that also offers `node:`
 * modules. Deno and Bun report a `process.versions.node` too, but there
 * their `node:` network modules are a compatibility layer over the
 * runtime's own, and `fetch` is the native fast path; on Node it is the
 * other way round (its `fetch`, undici, costs several times HTTP/1.1 on a
 * kept-alive `node:net` socket). So an HTTP client should take `node:net`
 * by default only where this is true.
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
