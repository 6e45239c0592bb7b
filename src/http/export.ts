/**
 * GET /api/export/{target}: the running fleet's specs (file-defined and API-registered, as loaded
 * and validated) as systemd units or Kubernetes manifests (src/export/). JSON {target, files,
 * report, services} by default; a tar of the files and EXPORT-REPORT.md with ?format=tar or
 * Accept: application/x-tar. Query: ids (comma-separated), image, self, systemd_version.
 */
import { badRequest, notFound } from '../errors.js';
import { contextOf, exportFleet, renderReport, selfCommand, TARGETS, UnknownServices, type Target } from '../export/index.js';
import { tar } from '../export/tar.js';
import type { HttpPorts } from './ports.js';
import type { Route } from './server.js';

export function exportRoutes(o: HttpPorts): Route[] {
  return [{
    method: 'get', pattern: '/api/export/:target', scope: 'read',
    handler: (req) => {
      const target = req.params.target ?? '';
      if (!(TARGETS as readonly string[]).includes(target)) throw notFound(`export target "${target.slice(0, 40)}" (systemd or kubernetes)`);
      const version = req.query.get('systemd_version');
      if (version !== null && !/^\d{3}$/.test(version)) throw badRequest('systemd_version must be a systemd release number like 252', 'systemd_version');
      const ids = (req.query.get('ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const self = ['1', 'true'].includes(req.query.get('self') ?? '');
      let result;
      try {
        result = exportFleet(o.fleet.definitions(), { ...contextOf(o.config), self: selfCommand() }, {
          target: target as Target, ids, image: req.query.get('image') || undefined, self: self && target === 'systemd',
          systemdVersion: version === null ? undefined : Number(version),
        });
      } catch (e) {
        if (e instanceof UnknownServices) throw notFound(`service${e.ids.length > 1 ? 's' : ''} "${e.ids.join('", "')}"`);
        throw e;
      }
      const report = renderReport(result, o.config.file ?? '(default configuration)');
      if (req.query.get('format') === 'tar' || /application\/x-tar/.test(req.headers.accept)) {
        return {
          status: 200, text: tar({ ...result.files, 'EXPORT-REPORT.md': report }), contentType: 'application/x-tar',
          headers: [['content-disposition', `attachment; filename="orchestrator-${target}.tar"`]],
        };
      }
      return { status: 200, json: { target, files: result.files, report, services: result.services } };
    },
  }];
}
