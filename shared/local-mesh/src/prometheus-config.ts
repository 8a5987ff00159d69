import { join } from "node:path";
import { stringify } from "yaml";
import { ALERT_RULE_FILES, LOCAL_SERVICES, localScrapeJobs, type LocalServiceName } from "./topology.ts";

/** A Prometheus scrape job: the shape of prometheus.yml's `scrape_configs` entries credmesh uses. */
export interface ScrapeJob {
  job_name: string;
  metrics_path: string;
  static_configs: { targets: string[] }[];
}

/**
 * The scrape jobs of the local topology: one per job name of the services (the names the alert
 * rules and dashboards select on), each target `<host of the service>:<its port>`.
 * deploy/prometheus/prometheus.yml holds these with compose's host names (plus the NATS exporter).
 */
export function localScrapeConfigs(hostOf: (service: LocalServiceName) => string, portOf: (service: LocalServiceName) => number = (service) => LOCAL_SERVICES[service].port): ScrapeJob[] {
  return [...localScrapeJobs()].map(([job, services]) => ({
    job_name: job,
    metrics_path: "/metrics",
    static_configs: [{ targets: services.map((service) => `${hostOf(service)}:${portOf(service)}`) }],
  }));
}

/** prometheus.yml of `credmesh up`: every local service on 127.0.0.1, and credmesh's alert rules. */
export function localPrometheusConfig(options: { ruleDir: string; scrapeIntervalSeconds: number; port: (service: LocalServiceName) => number }): string {
  const interval = `${options.scrapeIntervalSeconds}s`;
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: ALERT_RULE_FILES.map((file) => join(options.ruleDir, file)),
    scrape_configs: localScrapeConfigs(() => "127.0.0.1", options.port),
  });
}
