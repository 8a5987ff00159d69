import { describe, expect, it } from "vitest";
import {
  cellKey,
  observationFilters,
  quarantineAuditSubject,
  quarantineControlFilter,
  quarantineControlSubject,
} from "./identity.ts";
import { STREAMS, identitySubject } from "./subjects.ts";

describe("quarantine names", () => {
  it("gives each command its own subject per cell, so permissions can tell them apart", () => {
    expect(quarantineControlSubject("quarantine", "e2e-azure-1")).toBe("credmesh.control.quarantine.e2e-azure-1");
    expect(quarantineControlSubject("release", "eu.prod@azure")).toBe("credmesh.control.release.eu_prod_azure");
    expect(quarantineControlFilter("release")).toBe("credmesh.control.release.*");
  });

  it("audits a cell's transitions on one subject inside the audit stream", () => {
    const subject = quarantineAuditSubject("e2e-azure-1");
    expect(subject).toBe("credmesh.audit.quarantine.e2e-azure-1");
    expect(subject.startsWith(STREAMS.audit.subjects[0].replace(">", ""))).toBe(true);
  });

  it("keys cells injectively in KV", () => {
    expect(cellKey("e2e-azure-1")).toBe("e2e-azure-1");
    expect(cellKey("a@b")).not.toBe(cellKey("a_b"));
    expect(cellKey("a.b")).not.toBe(cellKey("a_b"));
    expect(() => cellKey("a b")).toThrow(RangeError);
  });

  it("consumes the replicators' observations and none of the watcher's own events", () => {
    const filters = observationFilters();
    expect(filters).toEqual(["credmesh.identity.*.clock_skew", "credmesh.identity.*.access_denied"]);
    expect(filters).not.toContain(identitySubject("c", "expired"));
  });
});
