/**
 * What went wrong, in words, from whatever a database client or runtime
 * threw: the reason part of a store's "cannot ..." error.
 *
 * @module
 */

/**
 * What went wrong, in words, from whatever a client or runtime threw: its
 * message, or its class when it has none (a closed socket's error may have
 * an empty one); its code (`ECONNREFUSED`...) when the message does not say
 * it; the errors an `AggregateError` holds (a connection refused on each
 * address of a dual-stack host); and its causes. Errors carry no command
 * arguments, so no session data (nor password) ends up here.
 *
 * ```ts
 * failureText(Object.assign(new AggregateError([], ""), { code: "ECONNREFUSED" }));
 * // "AggregateError with no message (ECONNREFUSED)"
 * ```
 */
export function failureText(error: unknown): string {
  const seen = new Set<unknown>();
  const text = (e: unknown, depth: number): string => {
    if (typeof e !== "object" || e === null) return String(e);
    seen.add(e);
    const { message, code, name, errors, cause } = e as {
      message?: unknown;
      code?: unknown;
      name?: unknown;
      errors?: unknown;
      cause?: unknown;
    };
    const className = (e as { constructor?: { name?: unknown } }).constructor?.name;
    const kind = typeof name === "string" && name !== "Error"
      ? name
      : typeof className === "string" && className !== "Object"
      ? className
      : "Error";
    let out = typeof message === "string" && message.trim() !== ""
      ? message.trim()
      : `${kind} with no message`;
    if ((typeof code === "string" || typeof code === "number") && !out.includes(String(code))) {
      out += ` (${code})`;
    }
    if (depth >= 3) return out;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = [
        ...new Set(errors.filter((x) => !seen.has(x)).map((x) => text(x, depth + 1))),
      ];
      if (inner.length > 0) out += `: ${inner.join("; ")}`;
    }
    if (cause !== undefined && cause !== null && !seen.has(cause)) {
      const why = text(cause, depth + 1);
      if (!out.includes(why)) out += ` (cause: ${why})`;
    }
    return out;
  };
  return text(error, 0);
}
