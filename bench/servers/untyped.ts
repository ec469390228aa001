/**
 * Express, express-session and Koa ship no types of their own (and the
 * project adds no `@types` packages for a benchmark): they are loaded with
 * `require` and given the few types these servers use.
 *
 * @module
 */
import { createRequire } from "node:module";
import type { Server } from "node:http";

const require = createRequire(import.meta.url);

/** The part of an Express request the servers use. */
export interface ExpressRequest {
  session: { user?: string; n?: number };
}

/** The part of an Express response the servers use. */
export interface ExpressResponse {
  send(body: string): void;
  json(body: unknown): void;
  status(code: number): ExpressResponse;
}

/** An Express handler. */
export type ExpressHandler = (req: ExpressRequest, res: ExpressResponse, next: () => void) => void;

/** The part of an Express app the servers use. */
export interface ExpressApp {
  disable(setting: string): void;
  get(path: string, handler: ExpressHandler): void;
  use(handler: ExpressHandler): void;
  listen(port: number, host: string, ready: () => void): Server;
}

/** `express()`. */
export const express = require("express") as () => ExpressApp;

/** An express-session store (its MemoryStore, connect-redis's RedisStore). */
export type ExpressSessionStore = object;

/** `session(options)` of express-session, and its MemoryStore. */
export const expressSession = require("express-session") as {
  (options: {
    secret: string;
    store: ExpressSessionStore;
    resave: boolean;
    saveUninitialized: boolean;
  }): ExpressHandler;
  MemoryStore: new () => ExpressSessionStore;
};

/** The part of a Koa context the servers use. */
export interface KoaContext {
  path: string;
  status: number;
  body: unknown;
  session: { user?: string; n?: number } | null;
}

/** The part of a Koa app the servers use. */
export interface KoaApp {
  keys: string[];
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => unknown): void;
  listen(port: number, host: string, ready: () => void): Server;
}

/** `new Koa()`. */
export const Koa = require("koa") as new () => KoaApp;
