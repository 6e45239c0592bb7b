/**
 * The `components.schemas` of the OpenAPI document, generated from the valibot schemas with
 * @valibot/to-json-schema (JSON Schema 2020-12, the dialect of OpenAPI 3.1): the response bodies of
 * api/schemas.ts and the request body of POST /api/services from config/schema.ts's serviceSchema —
 * the very schema that validates it, so the document accepts what the server accepts (external,
 * replicas, port, gpus, rollout, image, env_file, secrets, schedule …).
 *
 * typeMode 'input': a pipe is described up to its first transform (a size is "512MB" or a number, a
 * signal a string), which is what a client sends. Checks JSON Schema cannot say (the cross-field
 * rules: executable unless external, exactly one of cron and interval_seconds, a valid cron
 * expression, …) are left out (errorMode 'ignore'): the server answers 400 naming the field.
 */
import { toJsonSchemaDefs, type JsonSchema } from '@valibot/to-json-schema';
import { components } from '../api/schemas.js';
import { serviceSchema, type ServiceDefaults } from '../config/schema.js';

const REF = '#/components/schemas/';

/** What a ServiceSpec key means (the schema's own JSDoc is not something the converter can see). Every key must exist. */
const SPEC_NOTES: Record<string, string> = {
  executable: 'Command line, split shell-style, run without a shell; required unless external',
  external: 'Registered by the service itself (the SDKs) and not started here: health-checked, shown and recorded, never restarted',
  health_endpoint: 'http(s) URL probed for liveness; ${VAR} references are expanded per instance',
  env_file: 'dotenv files read at each start, in order, before environment; relative to the service file (API: the config folder)',
  secrets: 'NAME: exactly one of {file}, {env}, {command}; resolved at each start. Shown with value "***", never the value (which may be sent back)',
  heartbeat: 'The service reports it is working (POST /api/services/{id}/heartbeat); none for timeout_seconds → action',
  silence: 'No stdout/stderr bytes for timeout_seconds → action',
  throttle: 'Exit codes that mean "rate-limited": such an exit waits and spends no retry',
  drain: 'A planned stop of a service that reports inflight waits for inflight 0 (at most timeout_seconds)',
  group: 'Supervision group (supervision.groups)',
  schedule: 'A job: started by its schedule, runs to completion. Exactly one of cron and interval_seconds; concurrency allow is refused',
  replicas: 'Run as instances <id>#0 … <id>#N-1, each with REPLICA_INDEX and REPLICA_COUNT; not with schedule or external',
  port: 'Instance n gets SERVICE_PORT = port + n',
  gpus: 'GPUs per instance: CUDA_VISIBLE_DEVICES round-robin over devices (auto: nvidia-smi -L)',
  rollout: 'Rolling restarts of a replicated service (PUT …/restart?rolling=true, or a reload that changes it)',
  image: 'A container image, for orchestrator export kubernetes only',
};

export function componentSchemas(defaults: ServiceDefaults, baseDir: string): Record<string, JsonSchema> {
  const schemas = toJsonSchemaDefs({ ...components, ServiceSpec: serviceSchema(defaults, baseDir) }, {
    target: 'draft-2020-12',
    typeMode: 'input',
    errorMode: 'ignore',
    overrideRef: ({ referenceId }) => `${REF}${referenceId}`,
  });
  const spec = schemas.ServiceSpec!;
  for (const [key, note] of Object.entries(SPEC_NOTES)) {
    const property = spec.properties?.[key];
    if (!property || typeof property !== 'object') throw new Error(`SPEC_NOTES names ${key}, which serviceSchema does not have`);
    property.description = note;
  }
  spec.description = 'A service definition: the keys of a service file. executable is required unless external is true; ' +
    'a job (schedule) has no replicas. Relative paths (working_dir, env_file, secrets.*.file) resolve against the config folder.';
  return {
    ...schemas,
    ServicePatch: {
      type: 'object',
      description: 'A JSON merge patch (RFC 7396) of a ServiceSpec: the keys to change, null removes one; the merged spec must be a valid ServiceSpec.',
      propertyNames: { enum: Object.keys(spec.properties ?? {}) },
    },
  };
}

/** A JSON reference to one of the component schemas. */
export const ref = (name: string) => ({ $ref: `${REF}${name}` });
