import { partitionOfEvent } from "@credmesh/events";
import { describe, expect, it } from "vitest";
import { awsMutation } from "./test-fixtures.ts";
import { buildReplayEvent, replayEventId } from "./replay-event.ts";

describe("replay events", () => {
  it("have a new id, deterministic per dead-letter record", () => {
    const record = new TextEncoder().encode('{"at":"2025-06-02T14:04:59Z"}');
    const id = replayEventId(12, record);
    expect(id).toMatch(/^replay:12:[0-9a-f]{12}$/);
    expect(replayEventId(12, record)).toBe(id);
    // Same sequence, other record (a recreated DLQ stream): another id, so no false deduplication.
    expect(replayEventId(12, new TextEncoder().encode('{"at":"2025-07-01T00:00:00Z"}'))).not.toBe(id);
  });

  it("keep the secret, versions, rule, correlation id and partition; say they are a replay", () => {
    const original = awsMutation();
    const replay = buildReplayEvent(original, "replay:12:0123456789ab");
    expect(replay.id).toBe("replay:12:0123456789ab");
    expect(replay.correlationid).toBe(original.correlationid);
    expect(replay.subject).toBe(original.subject);
    expect(replay.data).toEqual({ ...original.data, trigger: { ...original.data.trigger, source: "replay" } });
    for (const partitions of [1, 16, 64]) expect(partitionOfEvent(replay, partitions)).toBe(partitionOfEvent(original, partitions));
    expect(Object.isFrozen(replay.data.trigger)).toBe(true);
  });
});
