/**
 * Child processes the tests, the stress suite and the benchmarks start:
 * checking a program is installed, and killing every child when this process
 * exits however it exits. Runs on Node, Deno and Bun.
 *
 * @module
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import process from "node:process";

/** Whether `name` is a program on the PATH. */
export function hasBinary(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

/** Fail, saying which Debian package to install, when `name` is not on the PATH. */
export function requireBinary(name: string, debianPackage = name): void {
  if (!hasBinary(name)) {
    throw new Error(
      `${name} is not installed; install the Debian package (apt-get install ${debianPackage}) ` +
        "so the tests can start their own",
    );
  }
}

/** A server of its own that can be killed and started again on the same port. */
export interface OwnService {
  readonly port: number;
  /** Where clients reach it (`redis://...`, `http://...`). */
  readonly url: string;
  /** SIGKILL it and wait for the exit. */
  kill(): Promise<void>;
  /** Start it again on the same port, with the same settings; resolves once it answers. */
  start(): Promise<void>;
  /** Kill it for good and remove its files. */
  dispose(): Promise<void>;
}

// Every child tracked here, SIGKILLed when this process exits.
const running = new Set<ChildProcess>();
let hooked = false;

/** Kill `child` when this process exits (however it exits); returns `child`. */
export function track(child: ChildProcess): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const c of running) c.kill("SIGKILL");
    });
  }
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}
