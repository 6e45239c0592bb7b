#!/usr/bin/env python3
"""Example AI agent service in Python (standard library only), following the seed's contract:
a /health endpoint and a graceful SIGTERM handler.

    GET  /health      -> {"status": "healthy", "service": ..., "timestamp": ...}
    POST /summarize   -> {"summary": first sentence of the text}
"""
import json
import os
import signal
import sys
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("SERVICE_PORT", "8002"))
SERVICE = os.environ.get("ORCHESTRATOR_SERVICE_ID", "summarizer-agent")


class Handler(BaseHTTPRequestHandler):
    def _json(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self._json(200, {"status": "healthy", "service": SERVICE, "timestamp": datetime.now().isoformat()})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/summarize":
            self._json(404, {"error": "not found"})
            return
        length = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
        try:
            text = json.loads(self.rfile.read(length) or b"{}").get("text", "")
        except ValueError:
            self._json(400, {"error": "body must be JSON"})
            return
        summary = text.split(". ")[0].strip()
        print(f"summarized {len(text)} characters", flush=True)
        self._json(200, {"summary": summary})

    def log_message(self, fmt, *args):
        # Access log to stderr, one line per request, like a real service.
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)

    def signal_handler(sig, frame):
        print("Shutting down gracefully...", flush=True)
        server.server_close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, signal_handler)
    print(f"{SERVICE} listening on http://127.0.0.1:{PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
