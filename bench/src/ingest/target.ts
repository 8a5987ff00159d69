import type { ManagedProcess } from "../../../test/support/managed-process.ts";

/** An HTTP endpoint under load: a process of its own that stores what it accepts in one stream. */
export interface Target {
  name: "floor" | "tuned floor" | "ingest";
  /** The webhook URL (loopback). */
  url: string;
  /** Headers every delivery carries. */
  headers: Record<string, string>;
  /** The JetStream stream whose message count must grow by what the target acknowledged. */
  stream: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Headers of an EventBridge API-destination delivery (without its credentials). */
export const DELIVERY_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "user-agent": "Amazon/EventBridge/ApiDestinations",
} as const;
