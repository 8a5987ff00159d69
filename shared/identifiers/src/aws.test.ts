import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AWS_ACCOUNT_ID,
  AWS_REGION,
  formatSecretArn,
  isArn,
  parseAssumedRoleArn,
  parseRoleArn,
  parseSecretArn,
  secretNameOfArn,
} from "./aws.ts";

const alnum = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"];
/** Any valid Secrets Manager name: `[A-Za-z0-9/_+=.@-]`, 1–512 characters (FORMATS.md F). */
const secretName = fc.string({ unit: fc.constantFrom(...alnum, ..."/_+=.@-"), minLength: 1, maxLength: 512 });
const suffix = fc.string({ unit: fc.constantFrom(...alnum), minLength: 6, maxLength: 6 });
const account = fc.stringMatching(/^\d{12}$/);
const region = fc
  .tuple(fc.constantFrom("us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn"), fc.array(fc.constantFrom("east", "west", "north", "south", "central", "southeast", "northeast", "gov", "iso"), { minLength: 1, maxLength: 2 }), fc.integer({ min: 1, max: 14 }))
  .map(([area, words, number]) => `${area}-${words.join("-")}-${number}`);
const partition = fc.constantFrom("aws", "aws-cn", "aws-us-gov", "aws-iso-b");

describe("account ids and regions", () => {
  it("accepts every region AWS has, including GovCloud and two-digit numbers", () => {
    for (const code of ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "us-isob-east-1", "il-central-1", "cn-northwest-1", "ap-east-10"]) {
      expect(code).toMatch(AWS_REGION);
    }
    fc.assert(fc.property(region, (code) => AWS_REGION.test(code)));
  });

  it("refuses what is not a region or an account id", () => {
    for (const code of ["us-east", "US-EAST-1", "useast1", "us-east-1a", "-us-east-1", "us--east-1", ""]) expect(code).not.toMatch(AWS_REGION);
    for (const id of ["12345678901", "1234567890123", "12345678901a", " 123456789012"]) expect(id).not.toMatch(AWS_ACCOUNT_ID);
  });
});

describe("Secrets Manager ARNs", () => {
  it("round-trips every valid name, dashes and suffix-like endings included", () => {
    fc.assert(
      fc.property(partition, region, account, secretName, suffix, (p, r, a, name, s) => {
        const arn = formatSecretArn({ partition: p, region: r, account: a, name, suffix: s });
        expect(parseSecretArn(arn)).toEqual({ arn, partition: p, region: r, account: a, name, suffix: s });
        expect(secretNameOfArn(arn)).toBe(name);
        expect(isArn(arn)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it("takes the six-character suffix off the end only", () => {
    expect(parseSecretArn("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-credentials-Xa9TqZ")).toMatchObject({
      name: "prod/db-credentials",
      suffix: "Xa9TqZ",
      account: "123456789012",
      region: "us-east-1",
    });
    expect(secretNameOfArn("arn:aws:secretsmanager:us-east-1:123456789012:secret:a-b-c-123456-abcdef")).toBe("a-b-c-123456");
  });

  it.each([
    ["arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-credentials-Xa9TqZ", "prod/payments/db-credentials"],
    ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:my-app-db-password-AbC123", "my-app-db-password"],
    ["arn:aws:secretsmanager:us-east-1:123456789012:secret:a-000000", "a"],
    ["arn:aws:secretsmanager:us-east-1:123456789012:secret:name+=.@_-zZ9zZ9", "name+=.@_"],
    ["arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:gov-secret-abcdef", "gov-secret"],
    ["arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:cn-secret-abcdef", "cn-secret"],
  ])("reads the name in %s", (arn, name) => {
    expect(secretNameOfArn(arn)).toBe(name);
  });

  it("refuses partial ARNs, plain names, other services and malformed parts", () => {
    for (const value of [
      "prod/db-credentials",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db", // partial: no suffix
      "arn:aws:secretsmanager:us-east-1:12345678901:secret:db-Xa9TqZ",
      "arn:aws:secretsmanager:useast1:123456789012:secret:db-Xa9TqZ",
      "arn:aws:ssm:us-east-1:123456789012:secret:db-Xa9TqZ",
      "arn:azure:secretsmanager:us-east-1:123456789012:secret:db-Xa9TqZ",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:-Xa9TqZ",
      "arn:aws:ssm:us-east-1:123456789012:parameter/db-abcdef",
      "",
    ]) {
      expect(parseSecretArn(value)).toBeUndefined();
    }
  });

  it("never throws, and only parses what starts like an ARN", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (value) => {
        const parsed = parseSecretArn(value);
        if (parsed !== undefined) {
          expect(isArn(value)).toBe(true);
          expect(formatSecretArn(parsed)).toBe(value);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("IAM role and STS session ARNs", () => {
  it("reads the account and role (with its path) of a role ARN", () => {
    expect(parseRoleArn("arn:aws:iam::123456789012:role/service-role/credmesh-replicator")).toEqual({
      arn: "arn:aws:iam::123456789012:role/service-role/credmesh-replicator",
      partition: "aws",
      account: "123456789012",
      role: "service-role/credmesh-replicator",
    });
    expect(parseRoleArn("arn:aws-us-gov:iam::123456789012:role/x")).toMatchObject({ partition: "aws-us-gov" });
    for (const value of ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam:us-east-1:123456789012:role/x", "arn:aws:iam::123456789012:role/"]) {
      expect(parseRoleArn(value)).toBeUndefined();
    }
  });

  it("reads the role and session name CloudTrail reports for an assumed role", () => {
    expect(parseAssumedRoleArn("arn:aws:sts::123456789012:assumed-role/credmesh-replicator/credmesh-azure-1")).toEqual({
      arn: "arn:aws:sts::123456789012:assumed-role/credmesh-replicator/credmesh-azure-1",
      partition: "aws",
      account: "123456789012",
      role: "credmesh-replicator",
      session: "credmesh-azure-1",
    });
    expect(parseAssumedRoleArn("arn:aws:sts::123456789012:assumed-role/SecretsAdmin/alice@example.com")).toMatchObject({ session: "alice@example.com" });
    for (const value of ["arn:aws:iam::123456789012:role/x", "arn:aws:sts::123456789012:federated-user/alice", "arn:aws:sts::123456789012:assumed-role/only-role"]) {
      expect(parseAssumedRoleArn(value)).toBeUndefined();
    }
  });

  it("round-trips any valid role and session name", () => {
    const word = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...alnum, ..."_+=,.@-"), minLength: min, maxLength: max });
    fc.assert(
      fc.property(partition, account, word(1, 64), word(2, 64), (p, a, role, session) => {
        const arn = `arn:${p}:sts::${a}:assumed-role/${role}/${session}`;
        expect(parseAssumedRoleArn(arn)).toEqual({ arn, partition: p, account: a, role, session });
      }),
    );
  });
});
