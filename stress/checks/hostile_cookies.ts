/**
 * Check 1, hostile cookies: forged, altered, truncated, duplicated, renamed,
 * reordered, oversized, foreign and expired cookies never cause a 5xx, never
 * crash the server, and never show a request any session's data but its own.
 *
 * Every real session holds a unique canary value; every hostile request reads
 * the whole session (`GET /all`), and any canary in an answer that the
 * request was not entitled to see counts as "saw another session's data".
 * Only a request that carries a real cookie unchanged (a duplicate of it, a
 * control) is entitled to that session's canary. A share of the requests are
 * such controls and must see their own canary: proof the detector works.
 *
 * @module
 */
import { cookieHeader } from "../../test/kit/http_client.ts";
import { prng, type RealSession, type StoreUnderTest } from "../context.ts";
import { pool, rawRequest } from "../http.ts";
import { type CheckResult, Figures } from "../result.ts";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const CANARY = /CANARY-[0-9a-z]+/g;
/** One request in this many is a control: a real cookie, unchanged. */
const CONTROL_EVERY = 50;
const CHUNK = 3800;

/** A cookie from anywhere else: another store's server, or another secret or cookie name. */
export interface ForeignCookie {
  from: string;
  value: string;
}

/** A hostile request: the Cookie header, whether it needs a raw socket, and whose canary it may see. */
interface Hostile {
  category: string;
  cookie: string;
  raw: boolean;
  allowed: string | null;
}

/** The kinds of hostile cookie, taken in turn. */
export const CATEGORIES = [
  "random bytes",
  "valid-looking base64url",
  "bytes flipped",
  "truncated",
  "duplicated",
  "swapped names",
  "chunks reordered",
  "8 KB values",
  "another store's cookie",
  "expired",
] as const;

/** Builds hostile Cookie headers for one store from its real and foreign cookies. */
class HostileCookies {
  readonly #rand: () => number;
  constructor(
    seed: number,
    readonly name: string,
    readonly live: RealSession[],
    readonly expired: RealSession[],
    readonly foreign: ForeignCookie[],
  ) {
    this.#rand = prng(seed);
  }

  #int(n: number): number {
    return Math.floor(this.#rand() * n);
  }
  #pick<T>(list: readonly T[]): T {
    return list[this.#int(list.length)];
  }
  #b64(length: number): string {
    let s = "";
    for (let i = 0; i < length; i++) s += B64[this.#int(64)];
    return s;
  }
  /** The values of a real session's cookies joined (the ID, or the sealed value). */
  #value(s: RealSession): string {
    return s.cookies.map(([, v]) => v).join("");
  }
  /** Cookies for `value` the way this store would chunk it. */
  #chunked(value: string): string {
    const parts: string[] = [];
    for (let i = 0; i * CHUNK < value.length || i === 0; i++) {
      parts.push(
        `${i === 0 ? this.name : `${this.name}.${i}`}=${value.slice(i * CHUNK, (i + 1) * CHUNK)}`,
      );
    }
    return parts.join("; ");
  }

  make(category: (typeof CATEGORIES)[number]): Hostile {
    const none = (cookie: string, raw = false): Hostile => ({
      category,
      cookie,
      raw,
      allowed: null,
    });
    const real = this.#pick(this.live);
    const value = this.#value(real);
    switch (category) {
      case "random bytes": {
        // Any byte but CR and LF (which would end the header line).
        let s = "";
        const n = 1 + this.#int(200);
        for (let i = 0; i < n; i++) {
          let b = this.#int(256);
          if (b === 10 || b === 13) b = 32;
          s += String.fromCharCode(b);
        }
        return none(this.#rand() < 0.5 ? `${this.name}=${s}` : s, true);
      }
      case "valid-looking base64url": {
        if (this.name === "session") {
          return none(`session=${this.#b64(this.#rand() < 0.7 ? 43 : 1 + this.#int(300))}`);
        }
        // A sealed value's shape, with the real key ID: it reaches AES-GCM and fails there.
        const keyId = value.split(".")[1] ?? this.#b64(8);
        const sealed = `v1.${keyId}.${this.#b64(16)}.${this.#b64(40 + this.#int(value.length))}`;
        return none(this.#chunked(sealed));
      }
      case "bytes flipped": {
        // 1 to 3 distinct positions, each changed to another character (two
        // flips of one position could restore the original: not hostile).
        const chars = [...value];
        const positions = new Set<number>();
        const flips = Math.min(1 + this.#int(3), chars.length);
        while (positions.size < flips) positions.add(this.#int(chars.length));
        for (const at of positions) {
          let c = chars[at];
          while (c === chars[at]) c = B64[this.#int(64)];
          chars[at] = c;
        }
        return none(this.#chunked(chars.join("")));
      }
      case "truncated": {
        if (real.cookies.length > 1 && this.#rand() < 0.5) {
          // The last chunk cookie missing.
          return none(cookieHeader(real.cookies.slice(0, -1)));
        }
        return none(this.#chunked(value.slice(0, this.#int(value.length))));
      }
      case "duplicated": {
        const header = cookieHeader(real.cookies);
        const garbage = `${this.name}=${this.#b64(1 + this.#int(60))}`;
        const cookie = this.#pick([
          `${header}; ${header}`,
          `${garbage}; ${header}`,
          `${header}; ${garbage}`,
        ]);
        return { category, cookie, raw: false, allowed: real.canary };
      }
      case "swapped names": {
        const other = this.name === "session" ? "session_data" : "session";
        const names = [
          other,
          `${this.name}.1`,
          `${this.name}.2`,
          this.name.toUpperCase(),
          `${this.name}_`,
          `x${this.name}`,
        ];
        if (real.cookies.length > 1) {
          // Each chunk under the other's name.
          return none(
            real.cookies.map(([, v], i) => `${real.cookies[real.cookies.length - 1 - i][0]}=${v}`)
              .join("; "),
          );
        }
        return none(`${this.#pick(names)}=${value}`);
      }
      case "chunks reordered": {
        if (real.cookies.length > 1) {
          const values = real.cookies.map(([, v]) => v).reverse();
          return none(real.cookies.map(([k], i) => `${k}=${values[i]}`).join("; "));
        }
        // One value cut in two and sent as two chunks, second half first.
        const at = 1 + this.#int(Math.max(1, value.length - 1));
        return none(`${this.name}=${value.slice(at)}; ${this.name}.1=${value.slice(0, at)}`);
      }
      case "8 KB values": {
        const variants = [
          `${this.name}=${this.#b64(8192)}`,
          `${this.name}=${value}${this.#b64(8192 - value.length)}`,
          `${this.name}=${this.#b64(CHUNK)}; ${this.name}.1=${this.#b64(CHUNK)}; ${this.name}.2=${
            this.#b64(592)
          }`,
          `a=${this.#b64(4000)}; ${this.name}=${this.#b64(8192)}`,
        ];
        return none(this.#pick(variants));
      }
      case "another store's cookie": {
        const f = this.#pick(this.foreign);
        return none(this.#chunked(f.value));
      }
      case "expired":
        return none(cookieHeader(this.#pick(this.expired).cookies));
    }
  }
}

/** Figures of check 1 for one store. */
export async function hostileCookies(
  sut: StoreUnderTest,
  foreign: ForeignCookie[],
  total: number,
  deadlineMs: number,
  seed: number,
): Promise<CheckResult> {
  const started = Date.now();
  const gen = new HostileCookies(seed, sut.cookieName, sut.live, sut.expired, foreign);
  const storedBefore = sut.serverSide ? await sut.stored() : 0;
  await sut.control("reset");
  let status5xx = 0;
  let noAnswer = 0;
  let sawOther = 0;
  let controls = 0;
  let controlsSeen = 0;
  const status4xx: Record<string, number> = {};
  const byCategory: Record<string, number> = {};
  const offenders: string[] = [];
  const rand = prng(seed ^ 0x5eed);

  const run = await pool(total, 64, deadlineMs, async (i) => {
    let h: Hostile;
    if (i % CONTROL_EVERY === CONTROL_EVERY - 1) {
      const real = sut.live[Math.floor(rand() * sut.live.length)];
      h = {
        category: "control",
        cookie: cookieHeader(real.cookies),
        raw: false,
        allowed: real.canary,
      };
      controls++;
    } else {
      h = gen.make(CATEGORIES[i % CATEGORIES.length]);
    }
    byCategory[h.category] = (byCategory[h.category] ?? 0) + 1;
    let status: number;
    let body: string;
    try {
      if (h.raw) {
        ({ status, body } = await rawRequest(sut.server.port, "/all", h.cookie));
      } else {
        const reply = await sut.request("GET", "/all", h.cookie);
        ({ status, body } = reply);
      }
    } catch {
      noAnswer++;
      return;
    }
    if (status === 0) noAnswer++;
    if (status >= 500) status5xx++;
    if (status >= 400 && status < 500) status4xx[status] = (status4xx[status] ?? 0) + 1;
    const seen = new Set(body.match(CANARY) ?? []);
    for (const canary of seen) {
      if (canary === h.allowed) continue;
      sawOther++;
      if (offenders.length < 3) {
        offenders.push(
          `${h.category}: status ${status}, saw ${canary}, may see ${h.allowed}, cookie ` +
            JSON.stringify(h.cookie.slice(0, 200)) + `, body ${JSON.stringify(body.slice(0, 300))}`,
        );
      }
    }
    if (h.category === "control" && h.allowed !== null && seen.has(h.allowed)) controlsSeen++;
  });

  // The real sessions are all still there and still theirs.
  let intact = 0;
  for (const real of sut.live) {
    const reply = await sut.request("GET", "/all", cookieHeader(real.cookies));
    if (reply.body.includes(real.canary)) intact++;
  }
  const stats = await sut.stats();
  const f = new Figures()
    .equal("requests", run.done, total)
    .equal("5xx", status5xx, 0)
    .equal("crashed processes", sut.crashes(), 0)
    .equal("saw another session's data", sawOther, 0)
    .equal("controls saw their own", controlsSeen, controls)
    .equal("real sessions intact", intact, sut.live.length)
    .equal("no answer", noAnswer, 0)
    .equal("unhandled rejections", stats.unhandledRejections, 0);
  if (sut.serverSide) {
    // Hostile requests store nothing (expired sessions they presented may go).
    f.set("stored before", storedBefore).atMost("stored after", await sut.stored(), storedBefore);
  }
  f.set("4xx", Object.entries(status4xx).map(([s, n]) => `${s}x${n}`).join(" ") || "none");
  for (const o of offenders) f.fail(o);
  if (run.timedOut) f.fail(`stopped at the time bound after ${run.done} of ${total} requests`);
  return f.result(1, "hostile cookies", sut.kind, started);
}
