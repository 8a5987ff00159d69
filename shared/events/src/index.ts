export {
  MUTATION_EVENT_TYPE,
  MUTATION_KINDS,
  SPEC_VERSION,
  mutationDataSchema,
  mutationEventSchema,
  type AwsOrigin,
  type AzureOrigin,
  type MutationData,
  type MutationEvent,
  type MutationKind,
  type Origin,
  type Trigger,
} from "./schema.ts";
export {
  buildMutationEvent,
  decodeMutationEvent,
  destinationOf,
  encodeEvent,
  partitionOfEvent,
  secretKeyOf,
  type BuildMutationInput,
} from "./codec.ts";
export {
  LIFECYCLE_EVENT_TYPE,
  LIFECYCLE_KINDS,
  LIFECYCLE_OBJECTS,
  buildLifecycleEvent,
  decodeLifecycleEvent,
  lifecycleDataSchema,
  lifecycleEventSchema,
  type LifecycleData,
  type LifecycleEvent,
} from "./lifecycle.ts";
export { auditRecordSchema, buildAuditRecord, decodeAuditRecord, type AuditInput, type AuditRecord } from "./audit.ts";
export {
  buildDeadLetterRecord,
  deadLetterRecordSchema,
  decodeDeadLetterRecord,
  type DeadLetterInput,
  type DeadLetterRecord,
} from "./dead-letter.ts";
export { InvalidEventError } from "./wire.ts";
