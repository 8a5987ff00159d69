export { CLOUDS, isCloud, type Cloud } from "./clouds.ts";
export {
  DEFAULT_PARTITIONS,
  PREFIX,
  STREAMS,
  assertToken,
  auditSubject,
  deadLetterSubject,
  lifecycleSubject,
  mutationFilter,
  mutationSubject,
  partitionOf,
  replicatorDurable,
  type StreamKey,
} from "./subjects.ts";
