/**
 * credmesh's own identifiers, as every process that writes or reads them checks them: replication
 * rule ids, cell ids and correlation ids.
 */

/** Rule ids: letters, digits, `_` and `-`, up to 64 (they appear in events, tags and audit records). */
export const RULE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Cell ids: letters, digits and `_.@-`, 2–64 — a cell's STS role session name is `credmesh-<cell>`. */
export const CELL_ID = /^[A-Za-z0-9_.@-]{2,64}$/;

/**
 * Correlation ids (the sender's event id: an EventBridge UUID, an Event Grid GUID, or a derived
 * `reconcile:…`/`replay:…` id): letters, digits and `._:-`, up to 128. Also what ingest accepts as
 * a sender's event id, which becomes the JetStream message id.
 */
export const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
