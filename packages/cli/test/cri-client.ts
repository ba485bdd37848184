/**
 * A CRI client for the pod tests (cri.int.test.ts; not a test itself): the kubelet's calls to a
 * container runtime's `runtime.v1.RuntimeService` and `ImageService` over gRPC, from the CRI
 * proto of kubernetes/cri-api (vendored unchanged in third_party/cri-api), with @grpc/grpc-js.
 * Messages are plain objects with the proto's fields in lowerCamelCase, enums as their names,
 * 64-bit integers as numbers.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/** The vendored CRI v1 proto (kubernetes/cri-api pkg/apis/runtime/v1/api.proto). */
export const CRI_PROTO = fileURLToPath(new URL('./third_party/cri-api/api.proto', import.meta.url));

/** A CRI call that failed: the gRPC status name and containerd's message (`details`). */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: string,
    readonly details: string,
  ) {
    super(`${method}: ${code}: ${details}`);
  }
}

type Msg = Record<string, any>;

/** One CRI endpoint: `call(method, request)` on the runtime or the image service. */
export interface CriClient {
  /** A RuntimeService method (`RunPodSandbox`, `ExecSync` ...); rejects with {@link CriError}. */
  runtime(method: string, request: Msg, timeoutMs?: number): Promise<Msg>;
  /** An ImageService method (`ListImages`, `ImageStatus` ...); rejects with {@link CriError}. */
  image(method: string, request: Msg, timeoutMs?: number): Promise<Msg>;
  close(): void;
}

/**
 * A client of the CRI server at the unix socket `socket` (an absolute path).
 * @see kubernetes/cri-api pkg/apis/runtime/v1/api.proto
 */
export function criClient(socket: string): CriClient {
  const definition = protoLoader.loadSync(CRI_PROTO, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
  const v1 = (grpc.loadPackageDefinition(definition) as any).runtime.v1;
  const address = `unix://${socket}`;
  const runtime = new v1.RuntimeService(address, grpc.credentials.createInsecure());
  const image = new v1.ImageService(address, grpc.credentials.createInsecure());
  const call = (service: any, method: string, request: Msg, timeoutMs: number) =>
    new Promise<Msg>((resolve, reject) => {
      const lower = method[0]!.toLowerCase() + method.slice(1);
      service[lower](request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, reply: Msg) => {
        if (err) reject(new CriError(method, grpc.status[err.code] ?? String(err.code), err.details));
        else resolve(reply);
      });
    });
  return {
    runtime: (method, request, timeoutMs = 60_000) => call(runtime, method, request, timeoutMs),
    image: (method, request, timeoutMs = 60_000) => call(image, method, request, timeoutMs),
    close: () => {
      runtime.close();
      image.close();
    },
  };
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<CriError> {
  try {
    await p;
  } catch (err) {
    return err as CriError;
  }
  throw new Error('the call succeeded');
}
