/** Building normalised service specs for pure tests, through the real schema (so defaults are real). */
import { loadOrchestratorConfig, parseServiceInput, serviceDefaults } from '../../src/config/load.js';
import type { ServiceSpec } from '../../src/config/schema.js';

const config = loadOrchestratorConfig(undefined, {});

export function makeSpec(input: Record<string, unknown>): ServiceSpec {
  const { spec, problems } = parseServiceInput({ executable: 'sleep 1000', ...input }, serviceDefaults(config), '/tmp');
  if (!spec) throw new Error(`bad test spec: ${JSON.stringify(problems)}`);
  return spec;
}
