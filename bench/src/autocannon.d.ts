/**
 * The slice of autocannon 9 the bench uses (the package ships no types). Only what is read or
 * set here is declared, so a mismatch with the library shows up in one small place.
 */
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  export interface AutocannonRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }

  export interface AutocannonRequestSpec extends AutocannonRequest {
    /** Called before every request on a connection; returns the request to send. */
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
    /** Called with every complete response on a connection. */
    onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
  }

  export interface AutocannonOptions {
    url: string;
    connections: number;
    /** Seconds. */
    duration: number;
    method?: string;
    headers?: Record<string, string>;
    requests?: AutocannonRequestSpec[];
    /** Seconds before a request counts as a timeout. */
    timeout?: number;
  }

  /** Percentile summary of one of autocannon's hdr histograms (keys p50, p90, p99, ...). */
  export type AutocannonStats = Record<string, number>;

  export interface AutocannonResult {
    /** Seconds the measurement actually lasted. */
    duration: number;
    start: Date;
    finish: Date;
    errors: number;
    timeouts: number;
    resets: number;
    mismatches: number;
    non2xx: number;
    "1xx": number;
    "2xx": number;
    "3xx": number;
    "4xx": number;
    "5xx": number;
    statusCodeStats: Record<string, { count: number }>;
    /** Milliseconds, whole numbers (autocannon's histogram discerns 1 ms). */
    latency: AutocannonStats;
    requests: AutocannonStats;
    throughput: AutocannonStats;
  }

  export interface AutocannonInstance extends EventEmitter {
    on(event: "response", listener: (client: unknown, status: number, bytes: number, responseTimeMs: number) => void): this;
  }

  export default function autocannon(
    options: AutocannonOptions,
    callback: (error: Error | null, result: AutocannonResult) => void,
  ): AutocannonInstance;
}
