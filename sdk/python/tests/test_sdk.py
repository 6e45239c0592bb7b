"""orchestrator_sdk against a real orchestrator: `bin/orchestrator.js serve` of this checkout (which
must be built: `npm ci` or `npm run build`) on a temporary folder and a free port, started once for
the module. A service registers, is probed healthy and shown as running; one registered with an
executable is started by the orchestrator on request and heartbeats through the SDK from its environment;
refusals and an unreachable orchestrator raise OrchestratorError.

    cd sdk/python && python3 -m unittest discover -s tests -v

Environment: ORCHESTRATOR_BIN (default: bin/orchestrator.js three folders up), NODE (default: node),
ORCHESTRATOR_SDK_EXPECTED_DIR (when set, orchestrator_sdk must be imported from that folder: the
CI's run checks that the pip-installed module is the one tested).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import orchestrator_sdk
from orchestrator_sdk import OrchestratorError, ServiceAgent

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.environ.get("ORCHESTRATOR_BIN", os.path.join(ROOT, "bin", "orchestrator.js"))
NODE = os.environ.get("NODE", "node")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(check, what, timeout=20.0):
    """Poll check() (state in another process) until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # not answering yet
            last = e
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))
        time.sleep(0.05)


class Orchestrator:
    """A real `orchestrator serve` on a temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="orch-py-sdk-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        os.mkdir(os.path.join(self.dir, "services"))
        config = {  # JSON is YAML
            "orchestrator": {"host": "127.0.0.1", "port": self.port, "log_level": "DEBUG",
                             "data_dir": "./data", "log_dir": "./logs", "services_dir": "./services"},
            "monitoring": {"interval": 1, "timeout": 1, "enabled": True, "sample_interval": 1},
            "recovery": {"enabled": True, "max_retries": 3, "backoff_seconds": 0.1},
            "api": {"api_key": None, "rate_limit": 0},
            "database": {"path": "./data/registry.db"},
        }
        with open(os.path.join(self.dir, "orchestrator.yaml"), "w") as f:
            json.dump(config, f)
        self.output = open(os.path.join(self.dir, "serve.out"), "w+")
        self.proc = subprocess.Popen([NODE, BIN, "serve", "--config", os.path.join(self.dir, "orchestrator.yaml")],
                                     stdout=self.output, stderr=subprocess.STDOUT, cwd=self.dir)
        until(lambda: self.proc.poll() is None and self.get("/health")["status"] == "ok"
              or self._exited(), "the orchestrator's /health")

    def _exited(self):
        if self.proc.poll() is not None:
            raise SystemExit("orchestrator exited %s:\n%s" % (self.proc.returncode, self.log()))
        return False

    def log(self):
        self.output.seek(0)
        return self.output.read()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as res:
            return json.loads(res.read())

    def service(self, service_id):
        """The service's row in GET /api/services, or None."""
        return next((s for s in self.get("/api/services")["services"] if s["id"] == service_id), None)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.output.close()
        shutil.rmtree(self.dir, ignore_errors=True)


orch = None


def setUpModule():
    global orch
    orch = Orchestrator()


def tearDownModule():
    orch.stop()


class PackagingTest(unittest.TestCase):
    def test_module_is_the_expected_one(self):
        expected = os.environ.get("ORCHESTRATOR_SDK_EXPECTED_DIR")
        where = os.path.dirname(os.path.abspath(orchestrator_sdk.__file__))
        if expected:
            self.assertEqual(where, os.path.abspath(expected), "orchestrator_sdk imported from the installed copy")
        self.assertEqual(orchestrator_sdk.__version__, "0.1.0")
        self.assertEqual(sorted(orchestrator_sdk.__all__), ["OrchestratorError", "ServiceAgent"])


class RegistrationTest(unittest.TestCase):
    def test_register_is_probed_healthy_and_running_then_deregister(self):
        agent = ServiceAgent("py-unit", orch.url, name="Py unit", service_type="ai-agent", health={"interval_seconds": 0.2})
        server = agent.serve_health(0)
        self.addCleanup(agent.stop_health)
        registered = agent.register(retry_for=5)
        self.assertEqual(registered["id"], "py-unit")
        self.assertIs(registered["external"], True)
        self.assertEqual(agent.health_endpoint, "http://127.0.0.1:%d/health" % server.server_address[1])

        row = until(lambda: (lambda s: s if s and s["state"] == "running" and s["health"] == "healthy" else None)(orch.service("py-unit")),
                    "py-unit running and healthy")
        self.assertEqual(row["name"], "Py unit")
        self.assertEqual(row["type"], "ai-agent")
        self.assertIsNone(row["pid"], "not a process of the orchestrator")
        self.assertEqual(agent.status()["health_check"]["endpoint"], agent.health_endpoint)

        self.assertIs(agent.deregister(), True)
        self.assertIsNone(orch.service("py-unit"), "gone from the list")
        self.assertIs(agent.deregister(), False, "a second deregister finds nothing")
        with self.assertRaises(OrchestratorError) as caught:
            agent.status()
        self.assertEqual(caught.exception.status, 404)

    def test_started_by_the_orchestrator_heartbeats_from_its_environment(self):
        sdk_dir = os.path.dirname(os.path.abspath(orchestrator_sdk.__file__))
        script = os.path.join(orch.dir, "worker.py")
        with open(script, "w") as f:
            f.write("import threading\n"
                    "from orchestrator_sdk import ServiceAgent\n"
                    "agent = ServiceAgent()  # ORCHESTRATOR_URL, _SERVICE_ID and _TOKEN from the orchestrator\n"
                    "agent.start_heartbeat(interval=0.2, state=lambda: {'progress': 7, 'status': 'working'})\n"
                    "threading.Event().wait()\n")
        agent = ServiceAgent("py-worker", orch.url, executable="%s %s" % (sys.executable, script),
                             environment={"PYTHONPATH": sdk_dir, "PYTHONUNBUFFERED": "1"})
        agent.register()
        self.addCleanup(agent.deregister)
        # Self-registered with an executable: the orchestrator may start (and stop) it on request.
        start = urllib.request.Request(orch.url + "/api/services/py-worker/start", method="PUT")
        with urllib.request.urlopen(start, timeout=5) as res:
            self.assertLess(res.status, 300)
        row = until(lambda: (lambda s: s if s and s["state"] == "running" and s["progress"] == 7 else None)(orch.service("py-worker")),
                    "py-worker running with its heartbeat's progress")
        self.assertIsInstance(row["pid"], int, "a process of the orchestrator")
        self.assertEqual(row["status_text"], "working")


class ErrorsTest(unittest.TestCase):
    def test_refused_registration_raises_with_status_and_code(self):
        with self.assertRaises(OrchestratorError) as caught:
            ServiceAgent("not a valid id!", orch.url).register()
        self.assertEqual(caught.exception.status, 400)
        self.assertTrue(caught.exception.code)

    def test_unreachable_orchestrator_is_status_0(self):
        with self.assertRaises(OrchestratorError) as caught:
            ServiceAgent("nobody", "http://127.0.0.1:%d" % free_port(), timeout=2).register()
        self.assertEqual(caught.exception.status, 0)
        self.assertEqual(caught.exception.code, "unreachable")


if __name__ == "__main__":
    unittest.main()
