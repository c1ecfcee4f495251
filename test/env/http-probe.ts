/** @module One-shot HTTP(S) GETs used to tell when etcd and kube-apiserver are ready. */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export type ProbeOptions = { ca?: string | Buffer; token?: string; timeoutMs?: number };
export type ProbeResult = { status: number; body: string };

/** GET `url`; rejects on connection errors and after `timeoutMs` (default 2 s). */
export function probe(url: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const { ca, token, timeoutMs = 2_000 } = options;
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "GET",
        ...(ca ? { ca } : {}),
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
