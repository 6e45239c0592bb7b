"""Self-registration with the AI agent orchestrator, standard library only (Python 3.9+).

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

A service the orchestrator started needs no configuration: ORCHESTRATOR_URL, ORCHESTRATOR_SERVICE_ID
and ORCHESTRATOR_TOKEN are in its environment::

    agent = ServiceAgent()
    agent.start_heartbeat(interval=5, state=lambda: {"inflight": len(jobs)})
    if agent.draining:
        ...  # finish in-flight work, take no more
    agent.throttled(30)  # on an upstream 429: the next exit waits 30 s and is not a crash
"""

import json
import math
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["ServiceAgent", "OrchestratorError"]
__version__ = "0.1.0"


class OrchestratorError(Exception):
    """The orchestrator refused a request (``status`` is the HTTP status) or could not be reached (status 0)."""

    def __init__(self, message, status=0, code="unreachable"):
        super().__init__(message)
        self.status = status
        self.code = code


class ServiceAgent:
    def __init__(self, service_id=None, orchestrator_url=None, *, health_endpoint=None, api_endpoint=None,
                 name=None, service_type=None, executable=None, api_key=None, token=None, timeout=10.0,
                 health_check=None, **extra):
        """
        service_id        the service's id (letters, digits, ".", "_", "-"); default ORCHESTRATOR_SERVICE_ID
        orchestrator_url  e.g. "http://localhost:8000"; default ORCHESTRATOR_URL
        health_endpoint   where the orchestrator probes the service (serve_health() fills it in)
        api_endpoint      the service's own API, shown in the dashboard
        name, service_type  display name and kind (e.g. "ai-agent")
        executable        a command line the orchestrator may use to start the service again
        api_key           the orchestrator's API key (default: ORCHESTRATOR_API_KEY)
        token             the run's token for heartbeat() and throttled(), sent as Authorization: Bearer
                          (default: ORCHESTRATOR_TOKEN, which the orchestrator gives every child);
                          without one they send the API key
        health_check      a callable returning True/False for what /health answers (default: healthy)
        **extra           further service-file fields (health={...}, depends_on=[...], group=...)
        """
        service_id = service_id or os.environ.get("ORCHESTRATOR_SERVICE_ID")
        if not service_id:
            raise ValueError("ServiceAgent needs a service id (or ORCHESTRATOR_SERVICE_ID in the environment)")
        self.service_id = service_id
        self.orchestrator_url = (orchestrator_url or os.environ.get("ORCHESTRATOR_URL") or "http://localhost:8000").rstrip("/")
        self.health_endpoint = health_endpoint
        self.api_endpoint = api_endpoint
        self.name = name
        self.service_type = service_type
        self.executable = executable
        self.api_key = api_key if api_key is not None else os.environ.get("ORCHESTRATOR_API_KEY") or None
        self.token = token if token is not None else os.environ.get("ORCHESTRATOR_TOKEN") or None
        self.timeout = timeout
        self.health_check = health_check
        self.extra = extra
        self._health_server = None
        self._draining = False
        self._heartbeat_stop = None

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
            self._request("DELETE", self._path())
            return True
        except OrchestratorError as e:
            if e.status == 404:
                return False
            raise

    def status(self):
        """The orchestrator's current view of this service (a dict)."""
        return self._request("GET", self._path())

    def __enter__(self):
        self.register()
        return self

    def __exit__(self, *exc):
        try:
            self.deregister()
        finally:
            self.stop_health()
        return False

    # ------------------------------------------------------------------ lifecycle: heartbeat, drain, throttle

    @property
    def draining(self):
        """True once the last heartbeat was answered {"drain": true}: finish in-flight work, take no more."""
        return self._draining

    def heartbeat(self, progress=None, inflight=None, status=None):
        """POST /api/services/{id}/heartbeat: this run is alive (and, with the fields, how far it got).

        progress  a number that grows as work advances (heartbeat.require_progress watches it)
        inflight  work items in flight (a non-negative int); reporting it lets a planned restart drain
        status    a line of text shown in the dashboard and CLI
        Returns the answer {"drain": bool}, which also sets ``draining``.
        """
        body = {}
        if progress is not None:
            if isinstance(progress, bool) or not isinstance(progress, (int, float)) or not math.isfinite(progress):
                raise ValueError("progress: expected a number, got %r" % (progress,))
            body["progress"] = progress
        if inflight is not None:
            if isinstance(inflight, bool) or not isinstance(inflight, int) or inflight < 0:
                raise ValueError("inflight: expected a non-negative integer, got %r" % (inflight,))
            body["inflight"] = inflight
        if status is not None:
            if not isinstance(status, str):
                raise ValueError("status: expected a string, got %r" % (status,))
            body["status"] = status
        answer = self._request("POST", self._path() + "/heartbeat", body, auth="token")
        self._draining = isinstance(answer, dict) and answer.get("drain") is True
        return {"drain": self._draining}

    def start_heartbeat(self, interval=10.0, state=None, on_drain=None, on_error=None):
        """Heartbeat now and then every ``interval`` seconds from a daemon thread, one call at a time.

        state     a callable returning a dict with any of progress, inflight, status (a raise skips them)
        on_drain  called once when the orchestrator starts answering drain: true
        on_error  called with each failed heartbeat's exception; default: one line on stderr per new
                  kind of failure. Failures never end the loop or reach the caller.
        Keep interval well below the service's heartbeat.timeout_seconds. Returns a function that
        stops the loop; starting again stops the previous one.
        """
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
            raise ValueError("interval: expected a positive number, got %r" % (interval,))
        self.stop_heartbeat()
        stopped = threading.Event()
        agent = self

        def loop():
            last_error = None
            while not stopped.is_set():
                was_draining = agent._draining
                try:
                    try:
                        fields = dict(state() or {}) if state else {}
                    except Exception:  # a broken state callback still leaves a heartbeat
                        fields = {}
                    agent.heartbeat(progress=fields.get("progress"), inflight=fields.get("inflight"),
                                    status=fields.get("status"))
                    last_error = None
                    if agent._draining and not was_draining and on_drain and not stopped.is_set():
                        on_drain()
                except Exception as e:  # logged, never raised: a heartbeat must not end the service
                    try:
                        if on_error:
                            on_error(e)
                        elif str(e) != last_error:
                            sys.stderr.write("orchestrator heartbeat failed: %s\n" % e)
                            sys.stderr.flush()
                    except Exception:
                        pass
                    last_error = str(e)
                stopped.wait(interval)

        def stop():
            stopped.set()
            if agent._heartbeat_stop is stop:
                agent._heartbeat_stop = None

        self._heartbeat_stop = stop
        threading.Thread(target=loop, name="orchestrator-heartbeat", daemon=True).start()
        return stop

    def stop_heartbeat(self):
        """Stop the background heartbeat, if one runs."""
        if self._heartbeat_stop is not None:
            self._heartbeat_stop()

    def throttled(self, retry_after_seconds):
        """POST /api/services/{id}/throttle: the service is rate-limited upstream (an HTTP 429, a quota).

        Its next exit is "throttled", not a crash: it starts again after retry_after_seconds without
        spending a retry. Exit (or keep running) after this returns.
        """
        if isinstance(retry_after_seconds, bool) or not isinstance(retry_after_seconds, (int, float)) \
                or not math.isfinite(retry_after_seconds) or retry_after_seconds < 0:
            raise ValueError("retry_after_seconds: expected a non-negative number, got %r" % (retry_after_seconds,))
        self._request("POST", self._path() + "/throttle", {"retry_after_seconds": retry_after_seconds}, auth="token")

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

    def _path(self):
        return "/api/services/" + urllib.parse.quote(self.service_id, safe="")

    def _request(self, method, path, body=None, auth="key"):
        # auth "token": the run's token as Bearer when there is one (it authorises only this
        # service's own calls), else the API key.
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth == "token" and self.token:
            headers["Authorization"] = "Bearer " + self.token
        elif self.api_key:
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
