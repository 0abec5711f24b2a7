declare module 'mqtt-packet/generate.js' {
  const generate: unknown;
  export default generate;
}
