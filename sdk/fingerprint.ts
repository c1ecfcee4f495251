import type { KubeEvent } from "./event.ts";

/** 64-bit FNV-1a as 16 hex digits: small, dependency-free and the same inside QuickJS and Node. */
export function hash(text: string): string {
  let h1 = 0x811c9dc5, h2 = 0xcbf29ce4;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ (c >>> 8) ^ (h1 & 0xff), 0x01000193) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

/**
 * A stable alarm fingerprint: the same for every repeat of one problem (cluster, object, reason),
 * so people can tell a duplicate caused by a lost response from a new alarm.
 */
export function fingerprint(cluster: string, event: KubeEvent): string {
  const o = event.involvedObject;
  return hash([cluster, o.kind, o.namespace || event.metadata.namespace, o.name, o.fieldPath, event.reason].join("\u0000")).slice(0, 12);
}
