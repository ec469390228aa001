/**
 * The `node:net` transport parses Webdis's HTTP strictly: against a real
 * misbehaving HTTP server (a `node:net` server this file starts, which
 * writes whatever bytes each test gives it), every malformed, truncated or
 * oversized answer fails the request with a `SessionStoreError`, nothing
 * crashes, and the next request works. Well-formed variants that Webdis
 * itself does not send (chunked bodies with extensions and trailers,
 * HTTP/1.0, a body that ends with the connection) are read correctly.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { SessionStoreError } from "../src/errors.ts";
import { WebdisStore } from "../src/stores/webdis.ts";

/** What the server does with one request: bytes to write, then close or keep the socket. */
type Answer = { parts: string[]; close?: boolean };

const EMPTY = '{"HGETALL":{}}';
const good = (): Answer => ({
  parts: [`HTTP/1.1 200 OK\r\nContent-Length: ${EMPTY.length}\r\n\r\n${EMPTY}`],
});

/** A server that answers each request with the next queued answer (a good one when none is). */
async function scriptedServer(): Promise<
  { url: string; queue: Answer[]; requests: number; close(): Promise<void> }
> {
  const sockets = new Set<Socket>();
  const state = {
    url: "",
    queue: [] as Answer[],
    requests: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let seen = "";
    socket.on("data", async (chunk) => {
      seen += chunk.toString("latin1");
      // Only GETs arrive here (reads): a request ends at its blank line.
      while (seen.includes("\r\n\r\n")) {
        seen = seen.slice(seen.indexOf("\r\n\r\n") + 4);
        state.requests++;
        const answer = state.queue.shift() ?? good();
        for (const part of answer.parts) {
          // Each part in its own write, after the last one was flushed.
          await new Promise<void>((resolve) => socket.write(part, "latin1", () => resolve()));
        }
        if (answer.close) socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  state.url = `http://127.0.0.1:${address.port}`;
  return state;
}

const BAD: Array<[string, Answer, RegExp]> = [
  ["a status line that is not HTTP", {
    parts: [`ICY 200 OK\r\nContent-Length: ${EMPTY.length}\r\n\r\n${EMPTY}`],
  }, /not an HTTP\/1\.x status line/],
  ["a status code that is not three digits", {
    parts: [`HTTP/1.1 2OO OK\r\nContent-Length: ${EMPTY.length}\r\n\r\n${EMPTY}`],
  }, /not an HTTP\/1\.x status line/],
  ["an HTTP/2 status line", {
    parts: [`HTTP/2 200\r\nContent-Length: ${EMPTY.length}\r\n\r\n${EMPTY}`],
  }, /not an HTTP\/1\.x status line/],
  ["a header line without a colon", {
    parts: [`HTTP/1.1 200 OK\r\nServer Webdis\r\nContent-Length: 14\r\n\r\n${EMPTY}`],
  }, /malformed header line/],
  ["two different Content-Lengths", {
    parts: [`HTTP/1.1 200 OK\r\nContent-Length: 14\r\nContent-Length: 15\r\n\r\n${EMPTY}`],
  }, /malformed Content-Length/],
  ["both Content-Length and chunked", {
    parts: [
      `HTTP/1.1 200 OK\r\nContent-Length: 14\r\nTransfer-Encoding: chunked\r\n\r\ne\r\n${EMPTY}\r\n0\r\n\r\n`,
    ],
  }, /both Content-Length and chunked/],
  ["a body longer than its Content-Length", {
    parts: [`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n${EMPTY}`],
  }, /more bytes than the answer announced/],
  ["a connection closed in the middle of the body", {
    parts: [`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${EMPTY}`],
    close: true,
  }, /closed in the middle of the answer/],
  ["a connection closed in the middle of the headers", {
    parts: ["HTTP/1.1 200 OK\r\nContent-Le"],
    close: true,
  }, /closed in the middle of the answer/],
  ["a connection closed in the middle of a chunked body", {
    parts: ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\ne\r\n{"HGE'],
    close: true,
  }, /closed in the middle of the answer/],
  ["a chunk size that is not hex", {
    parts: [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${EMPTY}\r\n0\r\n\r\n`],
  }, /malformed chunk size/],
  ["a chunk longer than its size", {
    parts: [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n${EMPTY}\r\n0\r\n\r\n`],
  }, /chunk not ended by CRLF/],
  ["a Content-Length over the size limit", {
    parts: [`HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n${EMPTY}`],
  }, /over the size limit/],
  ["chunks that add up to more than the size limit", {
    parts: [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      `8\r\n${"x".repeat(8)}\r\n`,
      // 16 MiB: the eight bytes before and this one exceed the limit.
      "1000000\r\n",
    ],
  }, /over the size limit/],
  ["headers that never end", {
    parts: ["HTTP/1.1 200 OK\r\n", `X-Filler: ${"y".repeat(20_000)}`],
  }, /headers over 16 KB/],
  ["a Transfer-Encoding other than chunked", {
    parts: [`HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n${EMPTY}`],
  }, /Transfer-Encoding other than chunked/],
];

const FINE: Array<[string, Answer]> = [
  ["a chunked body in several chunks, with an extension and a trailer", {
    parts: [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"H',
      "\r\n4;name=value\r\nGETA\r\n",
      '7\r\nLL":{}}\r\n0\r\nX-Trailer: yes\r\n\r\n',
    ],
  }],
  ["an answer split in the middle of its headers and its body", {
    parts: ["HTTP/1.1 200 OK\r\nContent-", 'Length: 14\r\n\r\n{"HGET', 'ALL":{}}'],
  }],
  ["an HTTP/1.0 answer that closes the connection", {
    parts: [`HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\n${EMPTY}`],
    close: true,
  }],
  ["a body without a length, ended by the connection", {
    parts: [`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${EMPTY}`],
    close: true,
  }],
];

describe("Webdis (node:net): malformed HTTP answers fail cleanly", () => {
  let server: Awaited<ReturnType<typeof scriptedServer>>;
  let store: WebdisStore;
  before(async () => {
    server = await scriptedServer();
    store = new WebdisStore({ url: server.url, transport: "node:net", timeoutMs: 5000 });
  });
  after(async () => {
    await store.close();
    await server.close();
  });

  for (const [what, answer, expected] of BAD) {
    it(`${what}: a SessionStoreError, and the next request works`, async () => {
      assert.equal(await store.get("before", Date.now()), null, "a good answer first");
      server.queue.push(answer);
      const asked = server.requests;
      await assert.rejects(() => store.get("bad", Date.now()), (error: unknown) => {
        assert.ok(error instanceof SessionStoreError, String(error));
        assert.equal(error.status, 503);
        assert.match(error.message, expected);
        assert.match(error.message, /malformed HTTP answer to HGETALL/);
        return true;
      });
      assert.equal(server.requests, asked + 1, "a malformed answer is not sent again");
      assert.equal(await store.get("after", Date.now()), null, "the next request works");
    });
  }

  for (const [what, answer] of FINE) {
    it(`${what}: read as the answer it is`, async () => {
      server.queue.push(answer);
      assert.equal(await store.get("fine", Date.now()), null);
      assert.equal(await store.get("after", Date.now()), null, "the next request works");
    });
  }
});
