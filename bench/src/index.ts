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
export type { CallsResult, CountedMutation } from "./calls/section.ts";
export type { EndToEndResult, EndToEndLevel } from "./e2e/section.ts";
export type { OpenLoopResult, LatencyMs } from "./e2e/open-loop.ts";
export type { ThroughputResult, ThroughputDirection } from "./throughput/section.ts";
export type { QuotaResult, QuotaShape } from "./quota/section.ts";
export type { ReconcileResult, ReconcileStep, ReconcileRun } from "./reconcile/section.ts";
export type { FootprintResult, ProcessFootprint } from "./footprint/section.ts";
export type { ProcessUsage, RssSummary } from "./processes.ts";
