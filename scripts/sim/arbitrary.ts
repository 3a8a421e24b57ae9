// Scenarios as a fast-check arbitrary: a seeded base timeline whose user actions, API faults and second stepper
// fast-check may take away when it shrinks a counterexample, so a failure is reported in its smallest form.
import fc from "fast-check";
import { NO_FAULTS } from "./cluster.ts";
import { createRandom } from "./random.ts";
import { pickAction, randomScenario, type Scenario } from "./scenario.ts";

export const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .record({
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    actions: fc.array(
      fc.record({ tick: fc.integer({ min: 1, max: 269 }), action: fc.integer({ min: 1, max: 0x7fffffff }) }),
      {
        maxLength: 4,
      },
    ),
    faults: fc.boolean(),
    concurrent: fc.boolean(),
  })
  .map(({ seed, actions, faults, concurrent }) => {
    const base = randomScenario(seed);
    return {
      ...base,
      actions: actions
        .filter(({ tick }) => tick * 10 < base.minutes * 60)
        .map(({ tick, action }) => ({ atSeconds: tick * 10, action: pickAction(createRandom(action)) }))
        .sort((a, b) => a.atSeconds - b.atSeconds),
      faults: faults ? base.faults : NO_FAULTS,
      concurrentStepper: concurrent && base.concurrentStepper,
    };
  });
