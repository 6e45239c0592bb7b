"""Self-registration with the AI agent orchestrator, standard library only (Python 3.8+).

As in the product document::

    from orchestrator_sdk import ServiceAgent

    agent = ServiceAgent("my-service", "http://localhost:8000")
    agent.register()

With a health endpoint the orchestrator probes, and a clean goodbye::

    agent = ServiceAgent("my-service", "http://localhost:8000",
                         health_endpoint="http://localhost:8001/health",
                         api_endpoint="http://localhost:8001")
    agent.register()
    ...
    agent.deregister()

``agent.serve_health(port)`` serves the seed's /health payload
(``{"status": "healthy", "service": ..., "timestamp": ...}``) from a background thread when the
service has no HTTP server of its own.

A self-registered service is "external": the orchestrator health-checks it, shows it and records its
history, but did not start it and will not stop or restart it unless an ``executable`` was given.
Registering again (after the service restarted) updates the registration.

The API key comes from ``api_key=`` or the ORCHESTRATOR_API_KEY environment variable; the
orchestrator URL defaults to ORCHESTRATOR_URL, else http://localhost:8000.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["ServiceAgent", "OrchestratorError"]


class OrchestratorError(Exception):
    """The orchestrator refused a request (``status`` is the HTTP status) or could not be reached (status 0)."""

    def __init__(self, message, status=0, code="unreachable"):
        super().__init__(message)
        self.status = status
        self.code = code


class ServiceAgent:
    def __init__(self, service_id, orchestrator_url=None, *, health_endpoint=None, api_endpoint=None,
                 name=None, service_type=None, executable=None, api_key=None, timeout=10.0,
                 health_check=None, **extra):
        """
        service_id        the service's id (letters, digits, ".", "_", "-")
        orchestrator_url  e.g. "http://localhost:8000"
        health_endpoint   where the orchestrator probes the service (serve_health() fills it in)
        api_endpoint      the service's own API, shown in the dashboard
        name, service_type  display name and kind (e.g. "ai-agent")
        executable        a command line the orchestrator may use to start the service again
        api_key           the orchestrator's API key (default: ORCHESTRATOR_API_KEY)
        health_check      a callable returning True/False for what /health answers (default: healthy)
        **extra           further service-file fields (health={...}, depends_on=[...], group=...)
        """
        if not service_id:
            raise ValueError("ServiceAgent needs a service id")
        self.service_id = service_id
        self.orchestrator_url = (orchestrator_url or os.environ.get("ORCHESTRATOR_URL") or "http://localhost:8000").rstrip("/")
        self.health_endpoint = health_endpoint
        self.api_endpoint = api_endpoint
        self.name = name
        self.service_type = service_type
        self.executable = executable
        self.api_key = api_key if api_key is not None else os.environ.get("ORCHESTRATOR_API_KEY") or None
        self.timeout = timeout
        self.health_check = health_check
        self.extra = extra
        self._health_server = None

    # ------------------------------------------------------------------ registration

    def definition(self):
        """The registration body (POST /api/services)."""
        body = dict(self.extra)
        body.update({"id": self.service_id, "external": True})
        for key, value in (("name", self.name), ("type", self.service_type), ("health_endpoint", self.health_endpoint),
                           ("api_endpoint", self.api_endpoint), ("executable", self.executable)):
            if value:
                body[key] = value
        return body

    def register(self, retry_for=0.0):
        """Register (or update) this service; returns the orchestrator's view of it as a dict.

        retry_for: seconds to keep retrying while the orchestrator is not reachable or not ready (503).
        Refusals (bad definition, wrong key, id taken by a non-external service) raise at once.
        """
        deadline = time.monotonic() + retry_for
        delay = 0.1
        while True:
            try:
                return self._request("POST", "/api/services", self.definition())
            except OrchestratorError as e:
                # Not reachable yet (0), or up but still starting its supervision tree (503).
                if e.status not in (0, 503) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def deregister(self):
        """Remove the registration. True when removed, False when there was none."""
        try:
            self._request("DELETE", "/api/services/" + urllib.parse.quote(self.service_id, safe=""))
            return True
        except OrchestratorError as e:
            if e.status == 404:
                return False
            raise

    def status(self):
        """The orchestrator's current view of this service (a dict)."""
        return self._request("GET", "/api/services/" + urllib.parse.quote(self.service_id, safe=""))

    def __enter__(self):
        self.register()
        return self

    def __exit__(self, *exc):
        try:
            self.deregister()
        finally:
            self.stop_health()
        return False

    # ------------------------------------------------------------------ health

    def health_payload(self):
        """(ok, body): the seed's /health body {"status": "healthy", "service", "timestamp"}."""
        try:
            ok = bool(self.health_check()) if self.health_check else True
        except Exception:  # a failing check means unhealthy, not a crashed server
            ok = False
        return ok, {"status": "healthy" if ok else "unhealthy", "service": self.service_id,
                    "timestamp": datetime.now().isoformat()}

    def serve_health(self, port=0, host="127.0.0.1"):
        """Serve GET /health from a daemon thread; port 0 picks a free one. Without a
        health_endpoint, the registration then names this one. Returns the server."""
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != "/health":
                    self.send_error(404)
                    return
                ok, body = agent.health_payload()
                data = json.dumps(body).encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                pass  # probes every few seconds would flood the service's output

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="orchestrator-health", daemon=True).start()
        self._health_server = server
        if not self.health_endpoint:
            shown = "[%s]" % host if ":" in host else host
            self.health_endpoint = "http://%s:%d/health" % (shown, server.server_address[1])
        return server

    def stop_health(self):
        if self._health_server is not None:
            self._health_server.shutdown()
            self._health_server.server_close()
            self._health_server = None

    # ------------------------------------------------------------------ HTTP

    def _opener(self):
        # An orchestrator on this host is never reached through an HTTP proxy from the environment.
        host = urllib.parse.urlsplit(self.orchestrator_url).hostname or ""
        if host in ("localhost", "::1") or host.startswith("127."):
            return urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return urllib.request.build_opener()

    def _request(self, method, path, body=None):
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        req = urllib.request.Request(self.orchestrator_url + path, data=data, headers=headers, method=method)
        try:
            with self._opener().open(req, timeout=self.timeout) as res:
                text = res.read().decode("utf-8")
                return json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read().decode("utf-8")).get("error") or {}
            except (ValueError, AttributeError):
                err = {}
            raise OrchestratorError("%s %s: %s" % (method, path, err.get("message") or "HTTP %d" % e.code),
                                    e.code, err.get("code") or "http_%d" % e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise OrchestratorError("cannot reach the orchestrator at %s: %s" % (self.orchestrator_url, reason)) from None
