export { CLOUDS, isCloud, type Cloud } from "./clouds.ts";
export {
  DEFAULT_PARTITIONS,
  PREFIX,
  REPLICA_GROUP,
  STREAMS,
  assertToken,
  auditSubject,
  controlSubject,
  deadLetterSubject,
  identitySubject,
  lifecycleSubject,
  mutationFilter,
  mutationSubject,
  partitionOf,
  replicatorDurable,
  type StreamKey,
} from "./subjects.ts";
