import { conformance } from "./conformance.ts";
import { MemoryStore } from "../src/stores/memory.ts";

conformance({ name: "MemoryStore", makeStore: () => new MemoryStore() });
conformance({
  name: "MemoryStore (maxSessions 50)",
  makeStore: () => new MemoryStore({ maxSessions: 50 }),
});
