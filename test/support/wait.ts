/**
 * Readiness waits for parts we cannot subscribe to (from @credmesh/local-mesh). Never used to wait
 * for replication: that is awaited through the audit trail.
 */
export { httpOk, until } from "@credmesh/local-mesh";
