// The canary's traffic shares, whichever router carries them (Istio VirtualService, Gateway API HTTPRoute).

/** Traffic shares in percent; whatever greenlight writes is two integers summing to 100. */
export interface Weights {
  stable: number;
  canary: number;
}

export const sameWeights = (a: Weights, b: Weights): boolean => a.stable === b.stable && a.canary === b.canary;

export const isValidWeights = (weights: Weights): boolean =>
  Number.isInteger(weights.stable) &&
  Number.isInteger(weights.canary) &&
  weights.stable >= 0 &&
  weights.canary >= 0 &&
  weights.stable + weights.canary === 100;

/** The canary weight as a pair. */
export const weightsFor = (canary: number): Weights => ({ stable: 100 - canary, canary });

export const formatWeights = (weights: Weights): string => `stable ${weights.stable}% / canary ${weights.canary}%`;

/** Throws a RangeError for weights that are not two integers summing to 100: a programming error, not user input. */
export function assertValidWeights(weights: Weights): void {
  if (!isValidWeights(weights)) {
    throw new RangeError(`weights must be integers summing to 100, got ${JSON.stringify(weights)}`);
  }
}
