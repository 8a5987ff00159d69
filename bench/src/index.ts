/**
 * @credmesh/bench: the shapes of what `npm run bench` writes to bench/results/, for tools that
 * read or compare results. The bench itself runs from main.ts.
 */
export type { BenchResults } from "./results.ts";
export type { TargetResult } from "./measure.ts";
export type { Durability } from "./durability.ts";
export type { DuplicatesCheck } from "./duplicates.ts";
export type { CpuUsage } from "./cpu.ts";
export type { MachineInfo } from "./machine.ts";
export type { BenchOptions } from "./options.ts";
export type { LatencySummary } from "./load.ts";
export type { ClientBenchResults, ClientBackendResult, ClientBenchOptions } from "./client-bench.ts";
