/**
 * Checks against the OpenAPI document, for test/http/openapi-responses.test.ts: the document's own
 * structure (OpenAPI 3.1: every operation lists responses with descriptions, every $ref resolves,
 * every path parameter is declared, operationIds are unique, every component is a valid JSON
 * Schema 2020-12), and a real answer against the schema the document gives its status and content
 * type — with ajv, the whole document loaded once, each schema addressed by its JSON pointer so its
 * own `#/components/schemas/…` references resolve as a client's tooling would resolve them.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Answer } from './lib.js';

const DOC_ID = 'urn:orchestrator:openapi';
export const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

/** "/api/services/{id}" → "~1api~1services~1{id}" (RFC 6901), then URI-escaped as a fragment. */
const pointer = (...parts: string[]) => `#/${parts.map((p) => encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')}`;

function resolvePointer(doc: unknown, ref: string): unknown {
  let at: unknown = doc;
  for (const raw of ref.replace(/^#\/?/, '').split('/').filter((p) => p !== '')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (at === null || typeof at !== 'object' || !(key in at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Every "$ref" in the document, with where it is. */
function refs(node: unknown, at = '#', out: Array<[string, string]> = []): Array<[string, string]> {
  if (Array.isArray(node)) node.forEach((n, i) => refs(n, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push([at, v]);
      else refs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

export class OpenApiChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly doc: any) {
    this.ajv.addFormat('date-time', (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)));
    this.ajv.addFormat('uri', (s: string) => URL.canParse(s));
    this.ajv.addSchema(doc, DOC_ID);
  }

  /** What is wrong with the document as OpenAPI 3.1 (empty: nothing found). */
  structure(): string[] {
    const doc = this.doc;
    const problems: string[] = [];
    if (!/^3\.1\.\d+$/.test(doc.openapi)) problems.push(`openapi is ${doc.openapi}, not 3.1.x`);
    if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') problems.push('info needs title and version');
    const schemes = Object.keys(doc.components?.securitySchemes ?? {});
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
      if (!path.startsWith('/')) problems.push(`path ${path} does not start with /`);
      for (const [method, op] of Object.entries<any>(item)) {
        const where = `${method} ${path}`;
        if (!(METHODS as readonly string[]).includes(method)) { problems.push(`${where}: not an HTTP method of this API`); continue; }
        if (typeof op.operationId !== 'string' || ids.has(op.operationId)) problems.push(`${where}: missing or repeated operationId`);
        ids.add(op.operationId);
        const responses = Object.entries<any>(op.responses ?? {});
        if (!responses.length) problems.push(`${where}: no responses`);
        for (const [status, r] of responses) {
          if (!/^[1-5]\d\d$/.test(status)) problems.push(`${where}: response key ${status} is not a status code`);
          if (typeof r.description !== 'string') problems.push(`${where} ${status}: no description`);
        }
        for (const p of path.match(/\{[A-Za-z_]+\}/g) ?? []) {
          if (!op.parameters?.some((q: any) => q.in === 'path' && q.required === true && `{${q.name}}` === p)) problems.push(`${where}: ${p} is not declared as a required path parameter`);
        }
        for (const requirement of op.security ?? doc.security ?? []) {
          for (const name of Object.keys(requirement)) if (!schemes.includes(name)) problems.push(`${where}: unknown security scheme ${name}`);
        }
      }
    }
    for (const [at, ref] of refs(doc)) {
      if (!ref.startsWith('#/') || resolvePointer(doc, ref) === undefined) problems.push(`${at}: $ref ${ref} does not resolve`);
    }
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      if (!this.ajv.validateSchema(schema as object)) problems.push(`components.schemas.${name}: ${this.ajv.errorsText(this.ajv.errors)}`);
      else this.validator(pointer('components', 'schemas', name));
    }
    return problems;
  }

  /** The problems of `value` against the schema at `at` (a pointer into the document). */
  validate(at: string, value: unknown): string[] {
    const check = this.validator(at);
    if (check(value)) return [];
    return (check.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  }

  /** An answer of `method template` against the document: its status, content type and body. */
  answer(method: string, template: string, a: Answer): string[] {
    const op = this.doc.paths[template]?.[method];
    if (!op) return [`${method} ${template} is not in the document`];
    const status = String(a.status);
    const documented = op.responses[status];
    if (!documented) return [`status ${status} is not documented (${a.text.slice(0, 200)})`];
    const type = String(a.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!documented.content) return a.text === '' ? [] : [`status ${status} documents no body, got ${type}`];
    const media = documented.content[type];
    if (!media?.schema) return [`status ${status}: content type ${type || '(none)'} is not documented (${Object.keys(documented.content).join(', ')})`];
    const at = pointer('paths', template, method, 'responses', status, 'content', type, 'schema');
    if (type === 'application/json') return a.json === undefined ? ['not JSON'] : this.validate(at, a.json);
    if (type === 'application/x-ndjson') return a.text.split('\n').filter(Boolean).flatMap((line) => this.validate(at, JSON.parse(line)));
    return this.validate(at, a.text);
  }

  /** A request body against the document's request schema of `method template`. */
  request(method: string, template: string, body: unknown): string[] {
    const op = this.doc.paths[template]?.[method];
    if (!op?.requestBody?.content?.['application/json']?.schema) return [`${method} ${template} documents no JSON request body`];
    return this.validate(pointer('paths', template, method, 'requestBody', 'content', 'application/json', 'schema'), body);
  }

  /** The path parameters of a concrete path against their documented schemas. */
  params(method: string, template: string, path: string): string[] {
    const op = this.doc.paths[template]?.[method];
    const names = [...template.matchAll(/\{([A-Za-z_]+)\}/g)].map((m) => m[1]!);
    const match = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[A-Za-z_]+\\?\}/g, '([^/?]+)')}(?:\\?|$)`).exec(path);
    if (!match) return [`${path} does not match ${template}`];
    return names.flatMap((name, i) => {
      const index = op.parameters.findIndex((p: any) => p.in === 'path' && p.name === name);
      return this.validate(pointer('paths', template, method, 'parameters', String(index), 'schema'), decodeURIComponent(match[i + 1]!)).map((e) => `{${name}}: ${e}`);
    });
  }

  private validator(at: string): ValidateFunction {
    let v = this.compiled.get(at);
    if (!v) {
      v = this.ajv.compile({ $ref: `${DOC_ID}${at}` });
      this.compiled.set(at, v);
    }
    return v;
  }
}
