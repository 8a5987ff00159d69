import { randomUUID } from "node:crypto";
import { readFixture } from "./fixtures.ts";

type Json = Record<string, unknown>;

export interface SecretRef {
  arn: string;
  name: string;
  account: string;
  region: string;
}

/**
 * Real EventBridge deliveries for a secret, built from the wire-format fixtures with the
 * identifiers of a secret that actually exists in moto. Only identifiers change; the shape is
 * the fixture's.
 */
export function cloudTrailEvent(fixture: string, secret: SecretRef, overrides: { versionId?: string; id?: string } = {}): Json {
  const event = structuredClone(readFixture<Json>(fixture));
  event.id = overrides.id ?? randomUUID();
  event.account = secret.account;
  event.region = secret.region;
  event.time = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const detail = event.detail as Json;
  detail.awsRegion = secret.region;
  detail.recipientAccountId = secret.account;
  detail.eventTime = event.time;
  const request = (detail.requestParameters ?? {}) as Json;
  if ("name" in request) request.name = secret.name;
  if ("secretId" in request) request.secretId = secret.arn;
  if ("clientRequestToken" in request && overrides.versionId) request.clientRequestToken = overrides.versionId;
  const response = detail.responseElements as Json | null;
  if (response && typeof response === "object") {
    for (const key of ["arn", "aRN", "ARN"]) if (key in response) response[key] = secret.arn;
    if ("name" in response) response.name = secret.name;
  }
  const additional = detail.additionalEventData as Json | undefined;
  if (additional && "SecretId" in additional) additional.SecretId = secret.arn;
  return event;
}

export function labelUpdatedEvent(secret: SecretRef, versionId: string): Json {
  const event = structuredClone(readFixture<Json>("aws-native-secret-label-updated.json"));
  event.id = randomUUID();
  event.account = secret.account;
  event.region = secret.region;
  event.time = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  event.resources = [secret.arn];
  event.detail = { name: secret.name, labelUpdated: "AWSCURRENT", versionId };
  return event;
}
