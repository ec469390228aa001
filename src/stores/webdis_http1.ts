/**
 * WebdisStore's Node.js transport: HTTP/1.1 spoken directly over `node:net`
 * (or `node:tls` for an https URL), on kept-alive sockets in a bounded pool.
 *
 * Why not `node:http`: its client costs about 90 µs of CPU per request on a
 * kept-alive socket, several times a raw socket round trip (about 20 µs),
 * and Webdis needs only a sliver of HTTP (bench/webdis_transports.ts). So
 * this writes the request itself and parses the answer strictly: a status
 * line, headers, then a `Content-Length` body, a chunked body, or (as
 * HTTP/1.1 allows) a body that ends when the connection does. Anything else,
 * or a body over {@link MAX_BODY_BYTES}, fails the request with a
 * `SessionStoreError` and closes that socket; the next request opens another.
 *
 * One request per socket at a time, never pipelined: Webdis answers
 * pipelined requests out of order.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import type { NodeBuffer, NodeNet, NodeTls } from "../node_builtins.ts";
import { SessionStoreError } from "../errors.ts";
import {
  closedError,
  timeoutError,
  unreachableError,
  type WebdisAnswer,
  type WebdisExchange,
  type WebdisTarget,
} from "./webdis_transport.ts";

/** The largest answer body accepted; a session larger than this cannot be read. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MAX_HEAD_BYTES = 16 * 1024;
// Idle sockets close after this; Webdis itself keeps them much longer.
const IDLE_MS = 60_000;

/** One request in flight, or waiting for a socket. */
interface Job {
  head: string;
  command: string;
  resolve: (answer: WebdisAnswer) => void;
  reject: (error: SessionStoreError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  conn: Conn | undefined;
  resent: boolean;
}

/** Where the parse of the current answer is. */
type Stage =
  | "head"
  | "length"
  | "chunk-size"
  | "chunk-data"
  | "chunk-end"
  | "trailer"
  | "close"
  | "done";

/** One socket and the parse of the answer it is receiving. */
class Conn {
  job: Job | undefined;
  /** Whether it has carried a whole exchange (a later break may be a stale socket). */
  reused = false;
  stage: Stage = "head";
  /** Bytes received and not yet consumed. */
  pending: Buffer | undefined;
  status = 0;
  keepAlive = true;
  /** Body bytes (or chunk bytes) still to come. */
  left = 0;
  body: Buffer[] = [];
  bodyBytes = 0;
  /** Whether any byte of the current answer has arrived. */
  heard = false;
  constructor(readonly socket: Socket) {}

  reset(): void {
    this.stage = "head";
    this.pending = undefined;
    this.status = 0;
    this.keepAlive = true;
    this.left = 0;
    this.body = [];
    this.bodyBytes = 0;
    this.heard = false;
  }
}

/** HTTP/1.1 to Webdis over `node:net`/`node:tls`, on at most `maxConnections` sockets. */
export class Http1Exchange implements WebdisExchange {
  readonly name = "node:net" as const;
  readonly #target: WebdisTarget;
  readonly #connect: () => Socket;
  readonly #concat: (list: readonly Uint8Array[]) => Buffer;
  readonly #getPrefix: string;
  readonly #postHead: string;
  readonly #headTail: string;
  readonly #idle: Conn[] = [];
  readonly #open = new Set<Conn>();
  readonly #waiting: Job[] = [];
  #closed = false;

  /** `net` for an http URL, `tls` for an https one. */
  constructor(target: WebdisTarget, modules: { net: NodeNet; tls?: NodeTls; buffer: NodeBuffer }) {
    const { net, tls } = modules;
    this.#target = target;
    const { Buffer } = modules.buffer;
    this.#concat = (list) => Buffer.concat(list);
    const { hostname, port, protocol, host } = target.url;
    // `new URL` keeps IPv6 hosts in brackets; sockets want them bare.
    const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    const https = protocol === "https:";
    const portNumber = port === "" ? (https ? 443 : 80) : Number(port);
    this.#connect = https
      // SNI takes a host name only, never an address.
      ? () =>
        tls!.connect({
          host: bare,
          port: portNumber,
          servername: net.isIP(bare) ? undefined : bare,
        })
      : () => net.connect({ host: bare, port: portNumber });
    this.#getPrefix = `GET ${target.basePath}/`;
    this.#headTail = ` HTTP/1.1\r\nHost: ${host}\r\n` +
      (target.authorization ? `Authorization: ${target.authorization}\r\n` : "");
    this.#postHead = `POST ${target.basePath}/${this.#headTail}` +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  }

  send(method: "GET" | "POST", path: string, command: string): Promise<WebdisAnswer> {
    if (this.#closed) return Promise.reject(closedError(this.#target));
    if (!REQUEST_TARGET.test(path)) {
      // The store percent-encodes every argument; anything else would be an injected header.
      return Promise.reject(
        new SessionStoreError(`WebdisStore: ${command} has characters a request cannot carry`),
      );
    }
    const head = method === "GET"
      ? this.#getPrefix + path + this.#headTail + "\r\n"
      : this.#postHead + path.length + "\r\n\r\n" + path;
    return new Promise((resolve, reject) => {
      const job: Job = {
        head,
        command,
        resolve,
        reject,
        timer: undefined,
        conn: undefined,
        resent: false,
      };
      job.timer = setTimeout(() => {
        this.#fail(job, timeoutError(this.#target, command));
      }, this.#target.timeoutMs);
      this.#dispatch(job);
    });
  }

  close(): void {
    this.#closed = true;
    for (const job of this.#waiting.splice(0)) this.#fail(job, closedError(this.#target));
    for (const conn of [...this.#open]) {
      if (conn.job) this.#fail(conn.job, closedError(this.#target));
      conn.socket.destroy();
    }
    this.#idle.length = 0;
  }

  /** Give `job` a socket: an idle one, a new one, or its turn in the queue. */
  #dispatch(job: Job, fresh = false): void {
    const conn = fresh ? undefined : this.#idle.pop();
    if (conn) return this.#start(conn, job);
    if (this.#open.size >= this.#target.maxConnections) {
      this.#waiting.push(job);
      return;
    }
    let socket: Socket;
    try {
      socket = this.#connect();
    } catch (error) {
      return this.#fail(job, unreachableError(this.#target, error));
    }
    const made = new Conn(socket);
    this.#open.add(made);
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_MS);
    socket.on("data", (chunk: Buffer) => this.#receive(made, chunk));
    socket.on("timeout", () => {
      if (!made.job) socket.destroy();
    });
    let failure: unknown;
    socket.on("error", (error) => failure = error);
    // Webdis hung up: drop it from the idle list now, not at "close".
    socket.on("end", () => {
      const at = this.#idle.indexOf(made);
      if (at >= 0) this.#idle.splice(at, 1);
    });
    socket.on("close", () => this.#closedSocket(made, failure));
    this.#start(made, job);
  }

  #start(conn: Conn, job: Job): void {
    job.conn = conn;
    conn.job = job;
    conn.reset();
    conn.socket.ref();
    // ASCII only (REQUEST_TARGET, base64, a punycoded host): latin1 is the cheap encoding.
    conn.socket.write(job.head, "latin1");
  }

  #fail(job: Job, error: SessionStoreError): void {
    if (job.timer === undefined) return;
    clearTimeout(job.timer);
    job.timer = undefined;
    const conn = job.conn;
    if (conn) {
      // Its socket may still carry a late answer: never reuse it.
      conn.job = undefined;
      conn.socket.destroy();
    } else {
      const at = this.#waiting.indexOf(job);
      if (at >= 0) this.#waiting.splice(at, 1);
    }
    job.reject(error);
  }

  #closedSocket(conn: Conn, failure: unknown): void {
    this.#open.delete(conn);
    const at = this.#idle.indexOf(conn);
    if (at >= 0) this.#idle.splice(at, 1);
    const job = conn.job;
    conn.job = undefined;
    if (job && job.timer !== undefined) {
      job.conn = undefined;
      if (conn.stage === "close" && failure === undefined) {
        this.#answer(conn, job);
      } else if (this.#closed) {
        this.#fail(job, closedError(this.#target));
      } else if (conn.reused && !conn.heard && !job.resent) {
        // A kept-alive socket broke before any byte of the answer: almost
        // always Webdis closed it while idle (a restart, an idle limit) and
        // never read the request. Send it once more, on a new socket. Every
        // command is safe to repeat: reads and DEL are idempotent, the write
        // script sets the same fields again, and a repeated ID change finds
        // the old key gone and answers false (a fresh session follows).
        job.resent = true;
        this.#dispatch(job, true);
      } else if (conn.heard) {
        this.#fail(job, this.#malformed(job, "the connection closed in the middle of the answer"));
      } else {
        this.#fail(
          job,
          unreachableError(this.#target, failure ?? new Error("the connection closed")),
        );
      }
    }
    this.#next();
  }

  /** A socket slot freed or a socket went idle: hand it to the longest waiting job. */
  #next(): void {
    const job = this.#waiting.shift();
    if (job) this.#dispatch(job);
  }

  #malformed(job: Job, what: string): SessionStoreError {
    return new SessionStoreError(
      `WebdisStore: ${this.#target.shown} sent a malformed HTTP answer to ${job.command} ` +
        `(${what}); is the url pointing at Webdis?`,
    );
  }

  #receive(conn: Conn, chunk: Buffer): void {
    const job = conn.job;
    if (!job) {
      // Bytes nobody asked for (the tail of a body longer than announced).
      conn.socket.destroy();
      return;
    }
    conn.heard = true;
    const problem = parse(conn, conn.pending ? this.#concat([conn.pending, chunk]) : chunk);
    if (problem) return this.#fail(job, this.#malformed(job, problem));
    if (conn.stage === "done") this.#answer(conn, job);
  }

  #answer(conn: Conn, job: Job): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    const body = conn.body.length === 1
      ? conn.body[0].toString("utf8")
      : this.#concat(conn.body).toString("utf8");
    const status = conn.status;
    conn.job = undefined;
    conn.body = [];
    if (conn.keepAlive && !conn.socket.destroyed && !this.#closed) {
      conn.reused = true;
      conn.socket.unref();
      this.#idle.push(conn);
      this.#next();
    } else {
      conn.socket.destroy();
    }
    job.resolve({ status, body });
  }
}

// A request target of percent-encoded arguments: visible ASCII only.
const REQUEST_TARGET = /^[\x21-\x7e]*$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: [^\r\n]*)?$/;
const HEADER = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n]*$/;
// Every header line, each after its CRLF (names lowercased).
const HEADERS = /^(?:\r\n[!#$%&'*+.^_`|~0-9a-z-]+:[^\r\n]*)*$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?$/;

/**
 * Consume `data` into `conn`'s answer. Returns what is malformed, or
 * `undefined`; `conn.stage` is `"done"` once the answer is whole.
 */
function parse(conn: Conn, data: Buffer): string | undefined {
  let at = 0;
  conn.pending = undefined;
  for (;;) {
    switch (conn.stage) {
      case "head": {
        const end = data.indexOf("\r\n\r\n", at, "latin1");
        if (end < 0) {
          if (data.length - at > MAX_HEAD_BYTES) return "headers over 16 KB";
          conn.pending = data.subarray(at);
          return undefined;
        }
        const problem = parseHead(conn, data.toString("latin1", at, end));
        if (problem) return problem;
        at = end + 4;
        break;
      }
      case "length":
      case "chunk-data": {
        // Body bytes, up to what the length or the chunk size announced.
        const take = Math.min(conn.left, data.length - at);
        if (take > 0) conn.body.push(data.subarray(at, at + take));
        conn.left -= take;
        at += take;
        if (conn.left > 0) return undefined;
        conn.stage = conn.stage === "length" ? "done" : "chunk-end";
        break;
      }
      case "close": {
        if (at < data.length) {
          conn.bodyBytes += data.length - at;
          if (conn.bodyBytes > MAX_BODY_BYTES) return "a body over the size limit";
          conn.body.push(data.subarray(at));
        }
        return undefined;
      }
      case "chunk-size":
      case "trailer": {
        const end = data.indexOf("\r\n", at, "latin1");
        if (end < 0) {
          if (data.length - at > 1024) return "a chunk size or trailer line over 1 KB";
          conn.pending = data.subarray(at);
          return undefined;
        }
        const line = data.toString("latin1", at, end);
        at = end + 2;
        if (conn.stage === "trailer") {
          if (line === "") conn.stage = "done";
          else if (!HEADER.test(line)) return "a malformed trailer";
          break;
        }
        const size = CHUNK_SIZE.exec(line);
        if (!size) return "a malformed chunk size";
        conn.left = parseInt(size[1], 16);
        conn.bodyBytes += conn.left;
        if (conn.bodyBytes > MAX_BODY_BYTES) return "a body over the size limit";
        conn.stage = conn.left === 0 ? "trailer" : "chunk-data";
        break;
      }
      case "chunk-end": {
        if (data.length - at < 2) {
          conn.pending = data.subarray(at);
          return undefined;
        }
        if (data[at] !== 13 || data[at + 1] !== 10) return "a chunk not ended by CRLF";
        at += 2;
        conn.stage = "chunk-size";
        break;
      }
      default:
        // Whole: no byte may follow, as nothing else was asked.
        return at < data.length ? "more bytes than the answer announced" : undefined;
    }
  }
}

function parseHead(conn: Conn, head: string): string | undefined {
  const eol = head.indexOf("\r\n");
  const status = STATUS_LINE.exec(eol < 0 ? head : head.slice(0, eol));
  if (!status) return "not an HTTP/1.x status line";
  conn.status = Number(status[2]);
  if (conn.status < 200) return `an unexpected interim status ${conn.status}`;
  // One pass checks every header line; then the three that matter are looked up.
  const fields = eol < 0 ? "" : head.slice(eol).toLowerCase();
  if (!HEADERS.test(fields)) return "a malformed header line";
  const lengths = values(fields, "content-length");
  const length = lengths[0];
  if (lengths.some((l) => !/^\d{1,15}$/.test(l) || l !== length)) {
    return "a malformed Content-Length";
  }
  const encodings = values(fields, "transfer-encoding");
  if (encodings.length > 1 || (encodings.length === 1 && encodings[0] !== "chunked")) {
    return "a Transfer-Encoding other than chunked";
  }
  const chunked = encodings.length === 1;
  let http10Alive = false;
  for (const value of values(fields, "connection")) {
    const tokens = value.split(/[ \t]*,[ \t]*/);
    if (tokens.includes("close")) conn.keepAlive = false;
    if (tokens.includes("keep-alive")) http10Alive = true;
  }
  if (status[1] === "0" && !http10Alive) conn.keepAlive = false;
  if (chunked && length !== undefined) return "both Content-Length and chunked";
  if (conn.status === 204 || conn.status === 304) {
    conn.stage = "done";
  } else if (chunked) {
    conn.stage = "chunk-size";
  } else if (length !== undefined) {
    conn.left = Number(length);
    if (conn.left > MAX_BODY_BYTES) return "a body over the size limit";
    conn.stage = conn.left === 0 ? "done" : "length";
  } else {
    // No length: the body runs to the end of the connection.
    conn.keepAlive = false;
    conn.stage = "close";
  }
  return undefined;
}

/** The trimmed values of every `name` header in `fields` (lowercased lines, each after its CRLF). */
function values(fields: string, name: string): string[] {
  const found: string[] = [];
  const needle = "\r\n" + name + ":";
  for (let at = fields.indexOf(needle); at >= 0; at = fields.indexOf(needle, at + 1)) {
    const start = at + needle.length;
    const end = fields.indexOf("\r", start);
    found.push(fields.slice(start, end < 0 ? fields.length : end).trim());
  }
  return found;
}
