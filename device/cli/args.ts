// What every gymgate-agent command shares: its I/O, the usage text, argument parsing and the usage error.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { DEFAULT_CONTROL_URL } from '../sim/control-client.ts';


export type CliIO = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); `run` waits on it. */
  stopSignal?: () => Promise<string>;
};

export class UsageError extends Error {
  override name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<T extends Options>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as {
      [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string;
    } & { help?: boolean };
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('. To specify')[0]}`);
  }
}

export const dataDirOf = (value: string | undefined, env: NodeJS.ProcessEnv) =>
  resolve(value ?? env.GYMGATE_AGENT_DATA ?? './.gymgate/agent');
export const controlOf = (value: string | undefined, env: NodeJS.ProcessEnv) => {
  // AGENT_CONTROL_PORT is the port `npm start` gives the local agent; the tap follows it.
  const url = value ?? env.GYMGATE_AGENT_CONTROL ?? (env.AGENT_CONTROL_PORT ? `http://127.0.0.1:${env.AGENT_CONTROL_PORT}` : DEFAULT_CONTROL_URL);
  if (!URL.canParse(url) || new URL(url).protocol !== 'http:') throw new UsageError(`--control must be an http:// URL, got ${url}`);
  return url;
};
export const required = (command: string, flag: string, value: string | undefined): string => {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${flag} is required`);
  return value;
};
export const doorRef = (value: string | undefined): string | number | undefined =>
  value === undefined ? undefined : /^\d+$/.test(value) ? Number(value) : value;

const USAGE = `Usage: gymgate-agent <command> [options]

Commands:
  provision --api URL --code CODE [--data DIR] [--name NAME] [--force]
      Enroll this door with a one-time code; writes DIR/device.json and DIR/config.json.
  run [--data DIR] [--driver simulated|onoff|gpiod|auto] [--control-port N] [--health-port N|off] [--mqtt URL]
      [--pull-interval SECONDS] [--heartbeat-interval SECONDS] [--verbose]
      Run the door agent (JSON log lines on stdout; SIGINT/SIGTERM stop it).
  tap [--door ID|N] (--card FACILITY:CARD [--format H10301|N10002|C1000|H10304] | --bits 0101… | --raw HEX)
      [--control URL] [--json]
      Tap a card at a door of a running agent that uses the simulated driver.
  relay [--door ID|N] [--control URL] [--json]
      Show a door's relay history (simulated driver).
  status [--control URL] [--json]
      Show the running agent's status.

Technician toolkit:
  doctor [--data DIR] [--json]
      Check GPIO access and chip base, reader wiring, clock sync, API and broker reachability,
      cache age, disk space and the running agent; each check ok / warn / fail with a reason.
  read-card [--data DIR] [--door ID|N] [--timeout SECONDS] [--driver NAME] [--json]
      Stop the agent first. Waits for one card and shows raw bits, format, facility, card, parity.
  test-relay [--data DIR] [--door ID|N] [--seconds S] [--driver NAME]
      Stop the agent first. Unlocks the door's relay for S seconds (default 3), then locks it.
  logs [-f] [-n LINES]
      The agent's log from the journal, one readable line per entry.
  version

DIR defaults to $GYMGATE_AGENT_DATA or ./.gymgate/agent.
The control URL defaults to $GYMGATE_AGENT_CONTROL, http://127.0.0.1:$AGENT_CONTROL_PORT, or ${DEFAULT_CONTROL_URL}.
`;

export function help(io: CliIO): number {
  io.stdout(USAGE);
  return 0;
}
