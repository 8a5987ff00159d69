import { constants, createHash, generateKeyPairSync, verify, type KeyObject, type X509Certificate } from "node:crypto";
import { CredmeshError } from "@credmesh/errors";
import { Sensitive } from "@credmesh/logging";
import { describe, expect, it } from "vitest";
import { formatAmzDate, serialDecimal, signRolesAnywhereRequest, type SigningMaterial } from "./signing.ts";

/**
 * Golden tests of the layout: the expected canonical request and string to sign are written out by
 * hand from AWS's documentation, not computed by the module. Only `raw` and `serialNumber` of the
 * certificate are used by the signer, so a stand-in carries arbitrary DER bytes; the integration
 * tests sign with real openssl-made certificates and verify with openssl.
 */
const certificate = (der: string, serialNumber: string): X509Certificate =>
  ({ raw: Buffer.from(der), serialNumber }) as unknown as X509Certificate;

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

const BODY =
  '{"durationSeconds":3600,"profileArn":"arn:aws:rolesanywhere:us-east-1:123456789012:profile/p",' +
  '"roleArn":"arn:aws:iam::123456789012:role/r","trustAnchorArn":"arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/t"}';
const DATE = new Date("2021-11-03T12:00:00.000Z");

function material(privateKey: KeyObject, intermediates: readonly X509Certificate[] = []): SigningMaterial {
  return { certificate: certificate("leaf-der", "0A1B"), intermediates, privateKey: new Sensitive(privateKey) };
}

const sign = (m: SigningMaterial, url = "https://rolesanywhere.us-east-1.amazonaws.com/sessions") =>
  signRolesAnywhereRequest({ method: "POST", url: new URL(url), body: BODY, region: "us-east-1", date: DATE }, m);

describe("signRolesAnywhereRequest", () => {
  it("signs the documented canonical request and string to sign with RSASSA-PKCS1-v1_5 / SHA-256", () => {
    const signed = sign(material(rsa.privateKey, [certificate("inter-1", "01"), certificate("inter-2", "02")]));
    const canonicalRequest =
      "POST\n" +
      "/sessions\n" +
      "\n" +
      "content-type:application/json\n" +
      "host:rolesanywhere.us-east-1.amazonaws.com\n" +
      "x-amz-date:20211103T120000Z\n" +
      `x-amz-x509:${Buffer.from("leaf-der").toString("base64")}\n` +
      `x-amz-x509-chain:${Buffer.from("inter-1").toString("base64")},${Buffer.from("inter-2").toString("base64")}\n` +
      "\n" +
      "content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain\n" +
      sha256(BODY);
    const stringToSign =
      "AWS4-X509-RSA-SHA256\n" + "20211103T120000Z\n" + "20211103/us-east-1/rolesanywhere/aws4_request\n" + sha256(canonicalRequest);

    const match = /^AWS4-X509-RSA-SHA256 Credential=(\d+)\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(
      signed.headers["Authorization"] ?? "",
    );
    expect(match?.slice(1, 4)).toEqual([
      "2587", // 0x0A1B
      "20211103/us-east-1/rolesanywhere/aws4_request",
      "content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain",
    ]);
    const signature = Buffer.from(match?.[4] ?? "", "hex");
    expect(verify("sha256", Buffer.from(stringToSign), { key: rsa.publicKey, padding: constants.RSA_PKCS1_PADDING }, signature)).toBe(true);
    // PKCS#1 v1.5 is deterministic (PSS is not): the same request signs to the same bytes.
    expect(sign(material(rsa.privateKey, [certificate("inter-1", "01"), certificate("inter-2", "02")])).headers["Authorization"]).toBe(
      signed.headers["Authorization"],
    );
    expect(signed.headers).toMatchObject({
      "Content-Type": "application/json",
      Host: "rolesanywhere.us-east-1.amazonaws.com",
      "X-Amz-Date": "20211103T120000Z",
      "X-Amz-X509": Buffer.from("leaf-der").toString("base64"),
    });
    expect(signed.algorithm).toBe("AWS4-X509-RSA-SHA256");
  });

  it("signs with ECDSA over SHA-256, DER-encoded, and leaves out the chain header when there are no intermediates", () => {
    const signed = sign(material(ec.privateKey));
    const canonicalRequest =
      "POST\n/sessions\n\n" +
      "content-type:application/json\n" +
      "host:rolesanywhere.us-east-1.amazonaws.com\n" +
      "x-amz-date:20211103T120000Z\n" +
      `x-amz-x509:${Buffer.from("leaf-der").toString("base64")}\n` +
      "\n" +
      "content-type;host;x-amz-date;x-amz-x509\n" +
      sha256(BODY);
    const stringToSign = `AWS4-X509-ECDSA-SHA256\n20211103T120000Z\n20211103/us-east-1/rolesanywhere/aws4_request\n${sha256(canonicalRequest)}`;
    const authorization = signed.headers["Authorization"] ?? "";
    expect(authorization).toMatch(
      /^AWS4-X509-ECDSA-SHA256 Credential=2587\/20211103\/us-east-1\/rolesanywhere\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-x509, Signature=[0-9a-f]+$/,
    );
    const signature = Buffer.from(authorization.slice(authorization.indexOf("Signature=") + 10), "hex");
    expect(signature[0]).toBe(0x30); // an ASN.1 SEQUENCE (r, s), not the raw 64-byte r||s form
    expect(verify("sha256", Buffer.from(stringToSign), { key: ec.publicKey, dsaEncoding: "der" }, signature)).toBe(true);
    expect(signed.headers).not.toHaveProperty("X-Amz-X509-Chain");
  });

  it("signs the host with its port for a non-default port, as fetch sends it", () => {
    const signed = sign(material(ec.privateKey), "http://127.0.0.1:8123/sessions");
    expect(signed.headers["Host"]).toBe("127.0.0.1:8123");
  });

  it("refuses a key Roles Anywhere cannot use", () => {
    const ed = generateKeyPairSync("ed25519");
    const error = (() => {
      try {
        sign(material(ed.privateKey));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CredmeshError);
    expect(error).toMatchObject({ reason: "configuration", code: "unsupported_key" });
  });

  it("refuses an endpoint with a query string rather than sign it by an untested rule", () => {
    expect(() => sign(material(ec.privateKey), "https://rolesanywhere.us-east-1.amazonaws.com/sessions?x=1")).toThrow(CredmeshError);
  });
});

describe("serialDecimal / formatAmzDate", () => {
  // Expected values from Python's int(hex, 16), not from BigInt.
  it.each([
    ["01", "1"],
    ["0A1B", "2587"],
    ["7460411472EA1279B2165D14B6AE4D6CA3888213", "664389470211604591176906875410274696442805781011"],
  ])("serial %s is %s in decimal", (hex, decimal) => {
    expect(serialDecimal(certificate("x", hex))).toBe(decimal);
  });

  it("writes SigV4's basic ISO 8601 date-time", () => {
    expect(formatAmzDate(new Date("2024-02-29T23:59:58.999Z"))).toBe("20240229T235958Z");
  });
});
