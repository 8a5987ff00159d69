import { describe, expect, it } from "vitest";
import { renderDeadLetters } from "../commands/dlq-list.ts";
import { awsMutation, deadLetterRecord, storedDeadLetter } from "./test-fixtures.ts";
import { parseDeadLetter } from "./record.ts";

describe("parseDeadLetter", () => {
  it("shows the identifiers of the dead-lettered mutation and the sanitized reason", () => {
    const event = awsMutation();
    const { view, event: decoded } = parseDeadLetter(storedDeadLetter(5, deadLetterRecord(event)));
    expect(decoded).toEqual(event);
    expect(view).toEqual({
      seq: 5,
      at: "2025-06-02T14:04:59.123Z",
      destination: "azure",
      rule: "payments-to-azure",
      kind: "upsert",
      secret: "aws/123456789012/us-east-1/prod/payments/db-password",
      origin: event.data.origin,
      eventId: event.id,
      correlationId: event.correlationid,
      reason: "unmanaged_destination",
      retryable: false,
      message: "Key Vault secret prod-x exists and is not managed by credmesh",
      code: undefined,
      status: undefined,
      deliveries: 1,
      cell: "azure-1",
      mutation: { stream: "CREDMESH_MUTATIONS", sequence: 42, subject: "credmesh.mutation.azure.p07" },
      replayable: true,
      problem: undefined,
    });
  });

  it("reports a record without a valid event as not replayable, without failing", () => {
    const missing = parseDeadLetter(storedDeadLetter(6, deadLetterRecord(undefined, { error: { reason: "invalid_event", retryable: false, message: "message 9 is not a valid mutation event" } })));
    expect(missing.event).toBeUndefined();
    expect(missing.view).toMatchObject({ replayable: false, reason: "invalid_event", rule: undefined, secret: undefined });
    expect(missing.view.problem).toMatch(/holds no mutation event/);

    const invalid = parseDeadLetter(storedDeadLetter(7, deadLetterRecord({ ...awsMutation(), type: "something.else" })));
    expect(invalid.view).toMatchObject({ replayable: false, reason: "unreadable_record", at: "2025-06-02T14:05:00.000Z" });
    expect(invalid.view.problem).toMatch(/not a valid dead-letter record \(event\.type: /);

    const unknownReason = parseDeadLetter(storedDeadLetter(9, deadLetterRecord(awsMutation(), { error: { reason: "made_up", retryable: false, message: "x" } })));
    expect(unknownReason.view).toMatchObject({ replayable: false, reason: "unreadable_record" });
    expect(unknownReason.view.problem).toMatch(/error\.reason/);

    const garbage = parseDeadLetter({ seq: 8, subject: "credmesh.dlq.aws", time: new Date("2025-01-01T00:00:00Z"), data: new TextEncoder().encode("not json") });
    expect(garbage.view).toMatchObject({ seq: 8, destination: "aws", reason: "unreadable_record", replayable: false, at: "2025-01-01T00:00:00.000Z" });
  });

  it("prints no field beyond the known identifiers, in the table or in JSON", () => {
    const smuggled = "hunter2-correct-horse-battery";
    const event = awsMutation();
    const records = [
      // Unknown fields at every level of an otherwise valid record.
      deadLetterRecord(event, { value: smuggled, error: { reason: "validation", retryable: false, message: "bad", cause: smuggled, secretString: smuggled } }),
      // An event with an extra field fails the strict event schema: the record is unreadable, none of its fields are shown.
      deadLetterRecord({ ...event, data: { ...event.data, value: smuggled } }),
      deadLetterRecord({ ...event, secret: smuggled }),
    ];
    const views = records.map((record, index) => parseDeadLetter(storedDeadLetter(index + 1, record)).view);
    const outputs = [renderDeadLetters(views, { total: 3, json: false }), renderDeadLetters(views, { total: 3, json: true })];
    for (const output of outputs) {
      expect(output).not.toContain(smuggled);
      expect(output).toContain("aws/123456789012/us-east-1/prod/payments/db-password");
    }
    expect(views.map((view) => view.replayable)).toEqual([true, false, false]);
  });
});

describe("renderDeadLetters", () => {
  it("prints a table an operator can act on, oldest first, with a note when truncated", () => {
    const views = [1, 2].map((seq) => parseDeadLetter(storedDeadLetter(seq, deadLetterRecord(awsMutation({ id: `event-${seq}` })))).view);
    const output = renderDeadLetters(views, { total: 5, json: false, destination: "azure" });
    const [header, first, second, note] = output.split("\n");
    expect(header).toMatch(/^SEQ\s+TIME\s+DEST\s+RULE\s+KIND\s+SECRET\s+REASON\s+DELIVERIES\s+CORRELATION ID\s+DETAIL$/);
    expect(first).toMatch(/^1\s+2025-06-02T14:04:59Z\s+azure\s+payments-to-azure\s+upsert\s+aws\/123456789012\/us-east-1\/prod\/payments\/db-password\s+unmanaged_destination\s+1\s+event-1\s+Key Vault secret/);
    expect(second).toMatch(/^2\s.*event-2/);
    expect(note).toBe("showing 2 of 5 dead letters for destination azure (oldest first; --limit to see more)");
    expect(renderDeadLetters([], { total: 0, json: false })).toBe("no dead letters");
    expect(JSON.parse(renderDeadLetters(views, { total: 5, json: true }))).toMatchObject({ total: 5, records: [{ seq: 1 }, { seq: 2 }] });
  });
});
