import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  /** STS Query action or the JSON 1.1 X-Amz-Target, e.g. "AssumeRoleWithWebIdentity", "secretsmanager.GetSecretValue". */
  action: string;
  params: URLSearchParams;
}

/**
 * An HTTP forwarder in front of moto that records every request's action. It gives tests an
 * independent count of cloud calls (STS calls per N events), outside the code under test.
 */
export interface RecordingProxy {
  endpoint: string;
  requests: RecordedRequest[];
  count(action: string): number;
  stop(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const text = body.toString("utf8");
      const params = new URLSearchParams((req.headers["content-type"] ?? "").includes("x-www-form-urlencoded") ? text : "");
      const target = req.headers["x-amz-target"];
      requests.push({
        method: req.method ?? "GET",
        path: req.url ?? "/",
        action: params.get("Action") ?? (typeof target === "string" ? target : ""),
        params,
      });
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (response) => {
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(res);
        },
      );
      forward.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    count: (action) => requests.filter((r) => r.action === action || r.action.endsWith(`.${action}`)).length,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
