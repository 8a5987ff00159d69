export { Sensitive, sensitive } from "./sensitive.ts";
export { LOGGABLE_HEADERS, REDACTED, REDACT_PATHS, loggableHeaders } from "./redaction.ts";
export { createLogger, serializeError, type Logger, type LoggerConfig } from "./logger.ts";
