// A part of the agent's runtime that starts and stops with it, like zigbee2mqtt's extensions. The
// agent (device/agent.ts) builds the features, starts them in order and stops them the other way
// round, doors first so every relay locks before anything else goes.
export interface Feature {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
}
