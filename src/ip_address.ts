/**
 * Whether a string is an IP address. Behind a proxy (`app.proxy`), Oak takes
 * `ctx.request.ip` from the client-controlled `X-Forwarded-For` header, so
 * what the session keeps of it (`recordDevice`) is checked first.
 *
 * @module
 */

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Whether `text` is an IPv4 address in dotted-quad form or an IPv6 address (no zone). */
export function isIpAddress(text: string): boolean {
  if (text.length > 45) return false;
  if (IPV4.test(text)) return true;
  let head = text;
  if (text.includes(".")) {
    // An IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
    const at = text.lastIndexOf(":");
    if (at < 0 || !IPV4.test(text.slice(at + 1))) return false;
    head = `${text.slice(0, at + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => h === "" ? [] : h.split(":"));
  if (!groups.every((g) => HEX_GROUP.test(g))) return false;
  return halves.length === 2 ? groups.length <= 7 : groups.length === 8;
}
