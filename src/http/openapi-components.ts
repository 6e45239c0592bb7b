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

export function componentSchemas(defaults: ServiceDefaults, baseDir: string): Record<string, JsonSchema> {
  const schemas = toJsonSchemaDefs({ ...components, ServiceSpec: serviceSchema(defaults, baseDir) }, {
    target: 'draft-2020-12',
    typeMode: 'input',
    errorMode: 'ignore',
    overrideRef: ({ referenceId }) => `${REF}${referenceId}`,
  });
  const spec = schemas.ServiceSpec!;
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
