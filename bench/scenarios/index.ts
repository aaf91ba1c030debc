/** Every scenario, in the order a run executes them. */
import type { Scenario } from '../lib/scenario.js'
import { endToEnd } from './end-to-end.js'
import { hotPath } from './hot-path.js'
import { n1Churn } from './n1-churn.js'
import { n1ColdStampede } from './n1-cold-stampede.js'
import { n1Warm } from './n1-warm.js'
import { responseChurn } from './response-churn.js'
import { responseHits } from './response-hits.js'
import { responseStampede } from './response-stampede.js'

export const SCENARIOS: readonly Scenario[] = [
  n1Warm,
  n1ColdStampede,
  n1Churn,
  hotPath,
  endToEnd,
  responseHits,
  responseChurn,
  responseStampede,
]

export function scenarioByName(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name)
  if (scenario === undefined) throw new Error(`no scenario named ${JSON.stringify(name)}`)
  return scenario
}
