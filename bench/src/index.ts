/**
 * @credmesh/bench: the shapes of what `npm run bench` writes to bench/results/, for tools that
 * read or compare results. The bench itself runs from main.ts.
 */
export type { BenchResults, SectionRecord } from "./results.ts";
export type { MachineInfo } from "./machine.ts";
export type { CpuUsage } from "./cpu.ts";
export type { IngestResult, IngestLevel, TargetSummary } from "./ingest/section.ts";
export type { TargetResult } from "./ingest/measure.ts";
export type { Durability } from "./ingest/durability.ts";
export type { DuplicatesCheck } from "./ingest/duplicates.ts";
export type { LatencySummary } from "./ingest/load.ts";
export type { ClientBenchResult, ClientBackendResult } from "./client/client-bench.ts";
