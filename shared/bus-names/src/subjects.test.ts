import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CLOUDS, isCloud, type Cloud } from "./clouds.ts";
import {
  DEFAULT_PARTITIONS,
  STREAMS,
  assertToken,
  auditSubject,
  deadLetterSubject,
  identitySubject,
  mutationFilter,
  mutationSubject,
  partitionOf,
  tokenDigest,
  replicatorDurable,
} from "./subjects.ts";

/** Any UTF-16 string, lone surrogates included: partitionOf hashes code units. */
const utf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength: 64 });

/** NATS subject matching, enough for `*` and a trailing `>`. */
function matches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length || (f[i] !== "*" && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

describe("subject and durable builders", () => {
  it("builds a zero-padded partition subject per destination", () => {
    expect(mutationSubject("azure", 3)).toBe("credmesh.mutation.azure.p03");
    expect(mutationSubject("aws", 15)).toBe("credmesh.mutation.aws.p15");
  });

  it("filters every partition of one destination and none of the other", () => {
    for (let partition = 0; partition < DEFAULT_PARTITIONS; partition++) {
      expect(matches(mutationFilter("azure"), mutationSubject("azure", partition))).toBe(true);
      expect(matches(mutationFilter("azure"), mutationSubject("aws", partition))).toBe(false);
    }
  });

  it("puts every subject it builds into the stream that owns it", () => {
    for (const cloud of CLOUDS) {
      expect(STREAMS.mutations.subjects.some((s) => matches(s, mutationSubject(cloud, 7)))).toBe(true);
      expect(STREAMS.deadLetters.subjects.some((s) => matches(s, deadLetterSubject(cloud)))).toBe(true);
      expect(STREAMS.audit.subjects.some((s) => matches(s, auditSubject(cloud, "written")))).toBe(true);
    }
  });

  it("keeps the streams' subjects apart, so no message is stored twice", () => {
    expect(matches(STREAMS.mutations.subjects[0], deadLetterSubject("aws"))).toBe(false);
    expect(matches(STREAMS.deadLetters.subjects[0], auditSubject("aws", "written"))).toBe(false);
    expect(matches(STREAMS.audit.subjects[0], mutationSubject("aws", 0))).toBe(false);
  });

  it("names the dead-letter and audit subjects an auditor taps", () => {
    expect(deadLetterSubject("azure")).toBe("credmesh.dlq.azure");
    expect(auditSubject("aws", "skipped_echo")).toBe("credmesh.audit.aws.skipped_echo");
    expect(matches("credmesh.audit.>", auditSubject("azure", "written"))).toBe(true);
  });

  it("names the durable consumer of each destination", () => {
    expect(replicatorDurable("azure")).toBe("replicator-azure");
    expect(replicatorDurable("aws")).toBe("replicator-aws");
  });

  it("refuses a decision that would add a token or a wildcard to the audit subject", () => {
    expect(() => auditSubject("aws", "skipped.echo")).toThrow(RangeError);
    expect(() => auditSubject("aws", ">")).toThrow(RangeError);
  });

  it("refuses a destination that is not a plain token, even if the type is bypassed", () => {
    expect(() => mutationFilter("azure.*" as Cloud)).toThrow(RangeError);
    expect(() => replicatorDurable("a b" as Cloud)).toThrow(RangeError);
  });
});

describe("assertToken", () => {
  it.each(["written", "skipped_echo", "p-01", "ABC123"])("accepts %j", (token) => {
    expect(assertToken(token, "decision")).toBe(token);
  });

  it.each(["", ".", "a.b", "*", "a*", ">", "a>", " ", "a b", "a\tb", "a\nb", "ü"])("rejects %j", (token) => {
    expect(() => assertToken(token, "decision")).toThrow(RangeError);
  });

  it("names what was wrong in its message", () => {
    expect(() => assertToken("a.b", "decision")).toThrow('decision "a.b" is not a valid subject token');
  });
});

describe("tokenDigest", () => {
  it("stands for any name with a valid token, the same every time", () => {
    fc.assert(
      fc.property(fc.string(), (name) => {
        const digest = tokenDigest(name);
        expect(digest).toMatch(/^[0-9a-f]{40}$/);
        expect(assertToken(digest, "digest")).toBe(tokenDigest(name));
      }),
    );
    expect(tokenDigest("prod/db")).not.toBe(tokenDigest("prod-db"));
  });
});

describe("isCloud", () => {
  it("knows exactly the supported clouds", () => {
    expect(CLOUDS.every(isCloud)).toBe(true);
    expect(isCloud("gcp")).toBe(false);
    expect(isCloud("AWS")).toBe(false);
  });
});

describe("partitionOf", () => {
  it("is FNV-1a, so partitions survive restarts, upgrades and other languages", () => {
    // Changing the hash would move secrets between partitions during a rolling upgrade and
    // break per-secret ordering; these are the published FNV-1a 32-bit test vectors.
    expect(partitionOf("", 2 ** 32)).toBe(0x811c9dc5);
    expect(partitionOf("a", 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf("foobar", 2 ** 32)).toBe(0xbf9cf968);
    expect(partitionOf("a")).toBe(0xe40c292c % 16);
  });

  it("is the same for the same key every time", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), fc.integer({ min: 1, max: 1024 }), (key, partitions) => {
        expect(partitionOf(key, partitions)).toBe(partitionOf(key, partitions));
      }),
    );
  });

  it("stays within [0, partitions)", () => {
    fc.assert(
      fc.property(utf16, fc.integer({ min: 1, max: 10_000 }), (key, partitions) => {
        const partition = partitionOf(key, partitions);
        expect(Number.isInteger(partition)).toBe(true);
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(partitions);
      }),
    );
  });

  it.each([
    ["AWS", (i: number) => `aws/123456789012/us-east-1/prod/app-${i}/db-credentials`],
    ["Azure", (i: number) => `azure/vault-${i % 7}/secret-${i}`],
  ])("spreads 10,000 %s secrets evenly over 16 partitions", (_, keyOf) => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 10_000; i++) counts[partitionOf(keyOf(i), 16)]! += 1;
    const expected = 10_000 / 16;
    const chiSquare = counts.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
    // 37.7 is the chi-square critical value for 15 degrees of freedom at p = 0.001.
    expect(chiSquare).toBeLessThan(37.7);
    for (const count of counts) expect(Math.abs(count - expected) / expected).toBeLessThan(0.15);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses %s partitions", (partitions) => {
    expect(() => partitionOf("key", partitions)).toThrow(RangeError);
  });
});

describe("identity subjects", () => {
  it("names a cell's identity event, stored in the identity stream and nowhere else", () => {
    const subject = identitySubject("e2e-azure-1", "clock_skew");
    expect(subject).toBe("credmesh.identity.e2e-azure-1.clock_skew");
    const owners = Object.values(STREAMS).filter((stream) => stream.subjects.some((filter) => matches(filter, subject)));
    expect(owners.map((stream) => stream.name)).toEqual(["CREDMESH_IDENTITY"]);
  });

  it("keeps a cell id with subject separators in one token", () => {
    expect(identitySubject("eu.prod@azure", "clock_skew")).toBe("credmesh.identity.eu_prod_azure.clock_skew");
    expect(() => identitySubject("cell", "clock.skew")).toThrow(RangeError);
  });
});
