/**
 * The client side of a CRI streaming `Exec` for the pod tests (cri.int.test.ts; not a test
 * itself): what `kubectl exec` does with the URL the runtime returns, over a WebSocket with
 * Kubernetes' `v4.channel.k8s.io` subprotocol (RFC 6455 framing; each binary message's first
 * byte is its channel: 1 stdout, 2 stderr, 3 the final status as a JSON metav1.Status).
 * No stdin, no tty: the server closes the connection when the process has exited.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';

/** What the stream carried: the output channels and the exit code from the status. */
export interface StreamResult {
  stdout: string;
  stderr: string;
  /** 0 for `Success`, the `ExitCode` cause of a `NonZeroExitCode` failure, else -1. */
  exitCode: number;
  status: unknown;
}

/** Payloads of the complete server frames at the start of `buf` (unmasked, RFC 6455 5.2), and the rest. */
function frames(buf: Buffer): { messages: Array<{ opcode: number; payload: Buffer }>; rest: Buffer } {
  const messages: Array<{ opcode: number; payload: Buffer }> = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    const opcode = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = Number(buf.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (buf.length - at < head + len) break;
    messages.push({ opcode, payload: buf.subarray(at + head, at + head + len) });
    at += head + len;
  }
  return { messages, rest: buf.subarray(at) };
}

/**
 * Open the streaming URL of a CRI `Exec` response and collect its output until the server
 * closes the connection (up to `timeoutMs`).
 * @throws Error when the server does not switch protocols (its status and body)
 */
export function runExecStream(url: string, timeoutMs = 20_000): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Protocol': 'v4.channel.k8s.io',
      },
      timeout: timeoutMs,
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => reject(new Error(`no websocket upgrade: ${res.statusCode} ${body}`)));
    });
    req.on('timeout', () => req.destroy(new Error('exec stream timed out')));
    req.on('error', reject);
    req.on('upgrade', (_res, socket, head) => {
      const out: Record<number, Buffer[]> = { 1: [], 2: [], 3: [] };
      let pending: Buffer = Buffer.from(head);
      const take = () => {
        const { messages, rest } = frames(pending);
        pending = rest;
        for (const m of messages) {
          if (m.opcode === 8) socket.end();
          else if (m.payload.length > 0 && out[m.payload[0]!]) out[m.payload[0]!]!.push(m.payload.subarray(1));
        }
      };
      take();
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        take();
      });
      socket.setTimeout(timeoutMs, () => socket.destroy(new Error('exec stream timed out')));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = (ch: number) => Buffer.concat(out[ch]!).toString();
        const raw = text(3);
        const status = raw ? JSON.parse(raw) : undefined;
        let exitCode = -1;
        if (status?.status === 'Success') exitCode = 0;
        else if (status?.reason === 'NonZeroExitCode') {
          const cause = status.details?.causes?.find((c: { reason?: string }) => c.reason === 'ExitCode');
          if (cause) exitCode = Number(cause.message);
        }
        resolve({ stdout: text(1), stderr: text(2), exitCode, status });
      });
    });
    req.end();
  });
}
