// Structured logs: one JSON object per line, with time, level and msg first.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export type Logger = {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
};

export type LogRecord = { time: string; level: LogLevel; msg: string } & LogFields;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const serialiseError = (value: unknown): unknown =>
  value instanceof Error ? { name: value.name, message: value.message, ...('code' in value ? { code: value.code } : {}) } : value;

export function createLogger(options: {
  write?: (line: string) => void;
  level?: LogLevel;
  clock?: () => number;
  fields?: LogFields;
} = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const min = rank[options.level ?? 'info'];
  const clock = options.clock ?? Date.now;
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
      if (rank[level] < min) return;
      const record: LogFields = { time: new Date(clock()).toISOString(), level, msg, ...base };
      for (const [key, value] of Object.entries(fields)) record[key] = serialiseError(value);
      write(JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    };
    return {
      debug: (msg, fields) => emit('debug', msg, fields),
      info: (msg, fields) => emit('info', msg, fields),
      warn: (msg, fields) => emit('warn', msg, fields),
      error: (msg, fields) => emit('error', msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.fields ?? {});
}

/** A logger that keeps its records in memory (for tests and for callers that inspect the log). */
export function createMemoryLogger(level: LogLevel = 'debug'): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = createLogger({ level, write: (line) => records.push(JSON.parse(line) as LogRecord) });
  return Object.assign(logger, { records });
}

export const silentLogger: Logger = createLogger({ write: () => undefined });
