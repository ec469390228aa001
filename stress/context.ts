/**
 * A store under test as the checks see it: its Oak server (a child process),
 * a keep-alive client to it, the real sessions seeded on it, and every raw
 * session ID it ever issued (for the leaked-ID check).
 *
 * @module
 */
import type { StoreKind } from "../test/kit/stores.ts";
import {
  deletesCookie,
  HttpClient,
  type RawReply,
  setCookieValues,
} from "../test/kit/http_client.ts";
import type { ChildServer } from "./services.ts";

/** A real session: its cookies as a browser holds them, and the canary value it stores. */
export interface RealSession {
  /** Cookie name/value pairs, in the order the server set them. */
  cookies: [string, string][];
  canary: string;
}

/** One store's server and what the checks learned about it. */
export class StoreUnderTest {
  readonly client: HttpClient;
  /** Raw session IDs the server handed out (server-side stores: the `session` cookie). */
  readonly issuedIds = new Set<string>();
  live: RealSession[] = [];
  expired: RealSession[] = [];

  constructor(
    readonly kind: StoreKind,
    readonly server: ChildServer,
    /** The session cookie's name: `session`, or `session_data` for the cookie store. */
    readonly cookieName: string,
    /** For SQLite: the database file (the leaked-ID check also reads it raw). */
    readonly sqliteFile?: string,
  ) {
    this.client = new HttpClient(server.port, 64);
  }

  get serverSide(): boolean {
    return this.kind !== "cookie";
  }

  /** Send a request; records every session ID the answer sets. */
  async request(method: string, path: string, cookie?: string): Promise<RawReply> {
    const reply = await this.client.request(method, path, cookie);
    this.track(reply.setCookies);
    return reply;
  }

  /** Record the session IDs in `Set-Cookie` lines. */
  track(lines: string[]): void {
    if (!this.serverSide) return;
    for (const line of lines) {
      if (deletesCookie(line)) continue;
      const value = setCookieValues([line]).get("session");
      if (value) this.issuedIds.add(value);
    }
  }

  /** Log in a new session holding `canary`; its cookies. */
  async login(canary: string, pad = 0): Promise<RealSession> {
    const reply = await this.request("POST", `/login?canary=${canary}${pad ? `&pad=${pad}` : ""}`);
    if (reply.status !== 200) throw new Error(`${this.kind}: login answered ${reply.status}`);
    const cookies: [string, string][] = [];
    for (const line of reply.setCookies) {
      if (deletesCookie(line)) continue;
      for (const pair of setCookieValues([line])) cookies.push(pair);
    }
    if (!cookies.length) throw new Error(`${this.kind}: login set no cookie`);
    return { cookies, canary };
  }

  /** A harness endpoint of the server, as JSON. */
  async control<T>(path: string): Promise<T> {
    const reply = await this.client.request("GET", `/__stress/${path}`);
    if (reply.status !== 200) {
      throw new Error(`${this.kind}: /__stress/${path} answered ${reply.status}`);
    }
    return JSON.parse(reply.body) as T;
  }

  /** Sessions stored, counted by the backend itself. */
  async stored(): Promise<number> {
    return (await this.control<{ stored: number }>("count")).stored;
  }

  stats(): Promise<ServerStats> {
    return this.control<ServerStats>("stats");
  }

  /** 1 when the server process exited without being asked to, else 0. */
  crashes(): number {
    return this.server.crashed() === null ? 0 : 1;
  }
}

/** The counters of a server under test. */
export interface ServerStats {
  requests: number;
  status5xx: number;
  setCookieResponses: number;
  errors: Record<string, number>;
  /** The message of the last error a request raised, for the report. */
  lastError: string;
  unhandledRejections: number;
  rss: number;
  heapUsed: number;
}

/** A seeded PRNG (mulberry32), so a run's hostile inputs can be reproduced from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whole MB, for RSS figures. */
export function mb(bytes: number): number {
  return Math.round(bytes / 1048576);
}
