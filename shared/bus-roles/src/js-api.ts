/**
 * The subjects of NATS's own protocols that a permission has to name: the JetStream API
 * (`$JS.API.…`, requests a client sends to manage and read streams and consumers), message
 * acknowledgements (`$JS.ACK.…`), flow control of push consumers (`$JS.FC.…`) and the subjects
 * behind a KV bucket (`$KV.<bucket>.<key>`, stored in stream `KV_<bucket>`).
 * @see https://docs.nats.io/reference/reference-protocols/nats_api_reference
 */
const API = "$JS.API";

export const JS_API = {
  /** Account information: every JetStream manager asks it first. */
  info: `${API}.INFO`,
  streamInfo: (stream: string) => `${API}.STREAM.INFO.${stream}`,
  streamCreate: (stream: string) => `${API}.STREAM.CREATE.${stream}`,
  streamUpdate: (stream: string) => `${API}.STREAM.UPDATE.${stream}`,
  streamDelete: (stream: string) => `${API}.STREAM.DELETE.${stream}`,
  streamPurge: (stream: string) => `${API}.STREAM.PURGE.${stream}`,
  streamNames: `${API}.STREAM.NAMES`,
  streamList: `${API}.STREAM.LIST`,
  /** Read one stored message by sequence or by last-of-subject (the request body says which). */
  streamMsgGet: (stream: string) => `${API}.STREAM.MSG.GET.${stream}`,
  streamMsgDelete: (stream: string) => `${API}.STREAM.MSG.DELETE.${stream}`,
  /** Direct get; with a subject, the last message of that subject only. */
  directGet: (stream: string, subject?: string) => (subject === undefined ? `${API}.DIRECT.GET.${stream}` : `${API}.DIRECT.GET.${stream}.${subject}`),
  consumerInfo: (stream: string, consumer: string) => `${API}.CONSUMER.INFO.${stream}.${consumer}`,
  /** Create or update a consumer; clients add the filter subject as further tokens. */
  consumerCreate: (stream: string, consumer: string) => `${API}.CONSUMER.CREATE.${stream}.${consumer}`,
  /** Create or update a durable the older way: what nats.js sends for a consumer with several filter subjects. */
  durableCreate: (stream: string, durable: string) => `${API}.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
  consumerDelete: (stream: string, consumer: string) => `${API}.CONSUMER.DELETE.${stream}.${consumer}`,
  consumerList: (stream: string) => `${API}.CONSUMER.LIST.${stream}`,
  /** A pull request for the next messages of a consumer. */
  consumerNext: (stream: string, consumer: string) => `${API}.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
  /** Ack, nak, term and progress of messages a consumer delivered (the reply subject of each message). */
  ack: (stream: string, consumer: string) => `$JS.ACK.${stream}.${consumer}.>`,
  /** Flow-control answers of push consumers (KV watches). */
  flowControl: (stream: string) => `$JS.FC.${stream}.>`,
} as const;

/** The stream behind a KV bucket. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** The subject of a KV key (or a key pattern: `*`, `>`). */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}
