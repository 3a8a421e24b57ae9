// Which version of an API group a cluster serves, learned on the first call: custom resources (Istio, the Gateway
// API) move from v1beta1 to v1 over the years, and one reader serves clusters of both ages.
import { isUnservedVersion, toKubeError } from "./errors.ts";

export class ServedVersion<V extends string> {
  private served: V | undefined;

  /** `candidates` in order of preference, newest first. */
  constructor(private readonly candidates: readonly V[]) {}

  get version(): V | undefined {
    return this.served;
  }

  /**
   * Runs `call` with the served version, trying each candidate while the server answers "not served" (a generic 404),
   * so a cluster on the older version costs one extra call, once per instance.
   */
  async call<T>(what: string, call: (version: V) => Promise<T>): Promise<T> {
    const candidates = this.served ? [this.served] : this.candidates;
    let lastError: unknown;
    for (const version of candidates) {
      try {
        const result = await call(version);
        this.served = version;
        return result;
      } catch (error) {
        lastError = error;
        if (!isUnservedVersion(error)) break;
      }
    }
    throw toKubeError(lastError, what);
  }
}
