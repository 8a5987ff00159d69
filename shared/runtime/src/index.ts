export { evaluateReadiness, type ReadinessCheck, type ReadinessReport, type ReadinessResult } from "./readiness.ts";
export { listenOps, opsRoutes, sendJson, type OpsRoutes } from "./ops-routes.ts";
export { exitOnBootFailure, onShutdown } from "./lifecycle.ts";
