import { randomUUID } from "node:crypto";
import { secretNameOfArn } from "@credmesh/identifiers";
import { cloudTrailEvent, type SecretRef } from "../../../test/support/eventbridge.ts";
import { readFixture } from "../../../test/support/fixtures.ts";

const FIXTURE = "aws-cloudtrail-putsecretvalue.json";

interface PutSecretValueFixture {
  account: string;
  region: string;
  detail: { requestParameters: { secretId: string } };
}

const fixture = readFixture<PutSecretValueFixture>(FIXTURE);

/** The secret the fixture's PutSecretValue names (the name is the ARN's without AWS's 6-character suffix). */
export const BENCH_SECRET: SecretRef = {
  arn: fixture.detail.requestParameters.secretId,
  name: secretNameOfArn(fixture.detail.requestParameters.secretId) ?? "",
  account: fixture.account,
  region: fixture.region,
};

const PLACEHOLDER = "bench-event-id-placeholder";

/**
 * Builds EventBridge PutSecretValue deliveries from the wire-format fixture. The event is
 * serialised once and only its `id` is spliced in per request, so the load generator spends
 * its share of the 2 cores on sending, not on JSON.
 */
export class EventBodies {
  readonly #head: string;
  readonly #tail: string;

  constructor() {
    const [head, tail, ...rest] = JSON.stringify(cloudTrailEvent(FIXTURE, BENCH_SECRET, { id: PLACEHOLDER })).split(PLACEHOLDER);
    if (head === undefined || tail === undefined || rest.length > 0) throw new Error(`${FIXTURE}: the event id must occur exactly once`);
    this.#head = head;
    this.#tail = tail;
  }

  /** A delivery with a fresh event id: a new durable message, never a dedupe hit. */
  next(): { id: string; body: string } {
    const id = randomUUID();
    return { id, body: this.#head + id + this.#tail };
  }
}
