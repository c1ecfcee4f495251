// undici ships types for its index only; dispatcher/undici.ts types these parts from those.
declare module "undici/lib/dispatcher/agent.js" {
  const part: unknown;
  export default part;
}
declare module "undici/lib/dispatcher/client.js" {
  const part: unknown;
  export default part;
}
declare module "undici/lib/dispatcher/dispatcher.js" {
  const part: unknown;
  export default part;
}
declare module "undici/lib/dispatcher/env-http-proxy-agent.js" {
  const part: unknown;
  export default part;
}
declare module "undici/lib/api/index.js" {
  const part: object;
  export default part;
}
