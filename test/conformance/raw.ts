/** Raw HTTP against a server, for checks of the exact bytes/JSON it sends (no client decoding in between). */
import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

export function rawRequest(
  url: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, url), { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer to ${method} ${path} within 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

export const post = (url: string, path: string, body: unknown): Promise<RawResponse> =>
  rawRequest(url, 'POST', path, typeof body === 'string' ? body : JSON.stringify(body));

/**
 * Opens a raw watch stream and collects `{"result":…}` lines until `until` says stop or `timeoutMs` passes.
 * Returns the parsed lines in arrival order.
 */
export function rawWatch(
  url: string,
  createRequest: unknown,
  until: (lines: any[]) => boolean,
  timeoutMs = 5000,
  afterOpen?: () => Promise<void>,
  headers: Record<string, string> = {},
): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const lines: any[] = [];
    let buf = '';
    let started = false;
    const req = http.request(new URL('/v3/watch', url), { method: 'POST', headers }, (res) => {
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line !== '') lines.push(JSON.parse(line));
        }
        if (!started && lines.length > 0) {
          started = true;
          afterOpen?.().catch(reject);
        }
        if (until(lines)) finish();
      });
      res.on('end', finish);
    });
    const timer = setTimeout(finish, timeoutMs);
    function finish(): void {
      clearTimeout(timer);
      req.destroy();
      resolve(lines);
    }
    req.on('error', () => finish());
    req.end(JSON.stringify({ create_request: createRequest }));
  });
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');
