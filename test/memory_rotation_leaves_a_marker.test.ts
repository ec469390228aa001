import { movedMarkerContract } from "./helpers/moved_marker_contract.ts";
import { MemoryStore } from "../src/stores/memory.ts";

movedMarkerContract({ name: "MemoryStore", makeStore: () => new MemoryStore() });
movedMarkerContract({
  name: "MemoryStore (maxSessions 50)",
  makeStore: () => new MemoryStore({ maxSessions: 50 }),
});
