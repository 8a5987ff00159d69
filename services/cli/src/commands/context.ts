import type { NatsConnection } from "@nats-io/transport-node";
import type { Io } from "../output.ts";

/** What every bus command gets from the dispatcher. */
export interface CommandContext {
  nc: NatsConnection;
  io: Io;
  json: boolean;
  /** Upper bound on each wait for the bus. */
  timeoutMs: number;
  /** Partitions per destination of this deployment (CREDMESH_PARTITIONS), for replays. */
  partitions: number;
}

/** Exit status of a command that ran: 0 ok, 1 failure (2 is for usage, decided before). */
export type ExitCode = 0 | 1;
