/**
 * An Oak server on `Deno.serve`, for Oak from npm on Deno: pass it as
 * `new Application({ serverConstructor: DenoServeServer })`.
 *
 * Why: npm Oak 14 picks its server by a runtime check that sees `process`
 * and `global` on Deno 2 and so takes its Node server (Deno's `node:http`
 * compatibility layer); its exported `HttpServerNative` looks for
 * `Deno.serve` on its bundled Deno shim, which has none, and refuses to
 * start. Oak from JSR serves on `Deno.serve`; this does the same for the npm
 * build, so the Deno figures are Deno's native HTTP server.
 *
 * npm Oak builds its responses with undici's `Response` (its fetch shim), so
 * each one is turned into Deno's own before it is handed back. Bodies are read
 * whole: the benchmark's are a few bytes, and a streamed body would wait for
 * its end (fine here, not for server-sent events).
 *
 * @module
 */
import type { Application } from "@oakserver/oak";

/** The part of `Deno.serve` used here (tsc checks the bench without Deno's types). */
export interface DenoServe {
  /** Serve HTTP on a port; see Deno's documentation. */
  serve(options: {
    hostname?: string;
    port?: number;
    signal?: AbortSignal;
    onListen?: (addr: { hostname: string; port: number }) => void;
    handler: (request: Request) => Response | Promise<Response>;
  }): { shutdown(): Promise<void> };
}

/** `Deno` when this runs on Deno, else undefined. */
export const deno: DenoServe | undefined = (globalThis as { Deno?: DenoServe }).Deno;

/** The response Oak hands its server: undici's, on npm Oak (the part used here). */
export interface OakResponse {
  /** The body, or null. */
  readonly body: ReadableStream<Uint8Array> | null;
  /** The status code. */
  readonly status: number;
  /** The status text. */
  readonly statusText: string;
  /** The headers, each Set-Cookie on its own. */
  readonly headers: Iterable<[string, string]>;
  /** The whole body. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** One request of `Deno.serve`, as Oak sees it (its ServerRequest contract). */
export class DenoServeRequest {
  readonly #request: Request;
  readonly #url: string;
  /** What the handler given to `Deno.serve` answers: settles when Oak responds. */
  readonly response: Promise<Response>;
  #resolve!: (response: Response) => void;
  #reject!: (reason: unknown) => void;
  #done = false;

  /** Wrap one request of `Deno.serve`. */
  constructor(request: Request) {
    this.#request = request;
    // Oak wants the path and query, as a Node request has it.
    const full = request.url;
    this.#url = full.slice(full.indexOf("/", full.indexOf("//") + 2));
    this.response = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** The request headers. */
  get headers(): Headers {
    return this.#request.headers;
  }
  /** The request method. */
  get method(): string {
    return this.#request.method;
  }
  /** The full URL. */
  get rawUrl(): string {
    return this.#request.url;
  }
  /** Not tracked (the benchmark never asks). */
  get remoteAddr(): string | undefined {
    return undefined;
  }
  /** The path and query. */
  get url(): string {
    return this.#url;
  }

  /** Fail the request (Deno.serve answers 500). */
  error(reason?: unknown): void {
    if (this.#done) throw new Error("Request already responded to.");
    this.#done = true;
    this.#reject(reason ?? new Error("request failed"));
  }

  /** The request body stream, if any. */
  getBody(): ReadableStream<Uint8Array> | null {
    return this.#request.body;
  }

  /** Answer with Oak's response, turned into Deno's own. */
  async respond(response: OakResponse): Promise<void> {
    if (this.#done) throw new Error("Request already responded to.");
    this.#done = true;
    const body = response.body === null ? null : await response.arrayBuffer();
    this.#resolve(
      new Response(body, {
        status: response.status,
        statusText: response.statusText,
        // Iterating Headers yields each Set-Cookie on its own.
        headers: [...response.headers],
      }),
    );
  }
}

/** Options Oak passes to its server constructor (the part used here). */
export interface ListenOptions {
  /** The address to listen on. */
  hostname?: string;
  /** The port to listen on. */
  port?: number;
  /** Aborting it stops the server. */
  signal?: AbortSignal;
}

/** Oak's server contract over `Deno.serve`. */
export class DenoServeServer implements AsyncIterable<DenoServeRequest> {
  /** What Oak reports as the server type in its `listen` event. */
  static type = "native" as const;
  readonly #options: ListenOptions;
  #server?: { shutdown(): Promise<void> };
  #stream?: ReadableStream<DenoServeRequest>;

  /** Called by Oak's `listen()` with the application and its listen options. */
  // deno-lint-ignore no-explicit-any
  constructor(_app: Application<any>, options: ListenOptions) {
    if (!deno) throw new Error("DenoServeServer runs on Deno only");
    this.#options = options;
  }

  /** Resolves once the socket accepts connections (Deno.serve's onListen). */
  listen(): Promise<{ addr: { hostname: string; port: number } }> {
    const { hostname, port, signal } = this.#options;
    return new Promise((resolve) => {
      this.#stream = new ReadableStream({
        start: (controller) => {
          this.#server = deno!.serve({
            hostname,
            port,
            signal,
            onListen: (addr) => resolve({ addr }),
            handler: (request) => {
              const oakRequest = new DenoServeRequest(request);
              controller.enqueue(oakRequest);
              return oakRequest.response;
            },
          });
        },
      });
    });
  }

  /** Stop serving. */
  async close(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  /** The requests, as they arrive; Oak iterates them. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<DenoServeRequest> {
    if (!this.#stream) throw new TypeError("the server is not listening yet");
    const reader = this.#stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }
}
