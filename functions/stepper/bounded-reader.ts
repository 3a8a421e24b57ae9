// Prometheus queries under the same bound as the pass's API calls: a query still running at its limit is a timeout
// error (an inconclusive check), never a pass held past its end.
import type { MetricsReader } from "../canary/checks.ts";
import { boundedCall, type CallPolicy, CallTimeout } from "../kube/calls.ts";

/** The reader with each query bounded by `policy`: a query still running at its limit answers a timeout error. */
export function boundedReader(reader: MetricsReader, policy: CallPolicy): MetricsReader {
  const bounded: MetricsReader = {
    async query(promql) {
      try {
        return await boundedCall(policy, "Prometheus query", () => reader.query(promql));
      } catch (error) {
        if (error instanceof CallTimeout) return { kind: "timeout", message: error.message };
        throw error;
      }
    },
  };
  const { querySamples } = reader;
  if (querySamples) {
    // The comparative judge's labelled queries, under the same bound.
    bounded.querySamples = async (promql) => {
      try {
        return await boundedCall(policy, "Prometheus query", () => querySamples.call(reader, promql));
      } catch (error) {
        if (error instanceof CallTimeout) return { kind: "timeout", message: error.message };
        throw error;
      }
    };
  }
  return bounded;
}
