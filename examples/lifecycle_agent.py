"""A supervised agent (README, "Agent lifecycle"): it heartbeats with its in-flight work, finishes
that work when the orchestrator asks it to drain, and turns an upstream 429 into a throttled exit.
Run it under the orchestrator, which gives it ORCHESTRATOR_URL, ORCHESTRATOR_SERVICE_ID and
ORCHESTRATOR_TOKEN (sdk/python must be on PYTHONPATH). UPSTREAM_URL is the API it calls (say, an
LLM); without one the work is simulated."""
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

from orchestrator_sdk import ServiceAgent

agent = ServiceAgent()
upstream = os.environ.get("UPSTREAM_URL")
lock = threading.Lock()
inflight = 0
done = 0


def state():
    with lock:
        return {"progress": done, "inflight": inflight, "status": "%d jobs done" % done}


agent.start_heartbeat(interval=2, state=state,
                      on_drain=lambda: print("draining: finishing %d job(s), taking no new ones" % inflight, flush=True))


def job(n):
    if not upstream:
        time.sleep(1)
        return
    req = urllib.request.Request(upstream, data=json.dumps({"job": n}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=60).read()
    except urllib.error.HTTPError as e:
        if e.code != 429:
            raise
        wait = float(e.headers.get("Retry-After") or 60)
        print("upstream answered 429: throttled for %gs" % wait, flush=True)
        agent.throttled(wait)  # the next exit is "throttled": a wait of exactly that long, no retry spent
        os._exit(75)           # EX_TEMPFAIL (os._exit: this runs in a worker thread)


def worker():
    global inflight, done
    n = 0
    while not agent.draining:
        n += 1
        with lock:
            inflight += 1
        try:
            job(n)
            with lock:
                done += 1
        except Exception as e:
            print("job failed: %s" % e, file=sys.stderr, flush=True)
        finally:
            with lock:
                inflight -= 1


def on_sigterm(sig, frame):
    print("stopping after %d jobs" % done, flush=True)
    sys.exit(0)


# A planned stop or restart waits for inflight 0, then sends the stop signal.
signal.signal(signal.SIGTERM, on_sigterm)
workers = [threading.Thread(target=worker, daemon=True) for _ in range(2)]
for w in workers:
    w.start()
for w in workers:
    w.join()
# Drained: say so now rather than at the next beat, so the stop signal comes without delay.
agent.heartbeat(progress=done, inflight=0, status="drained")
print("drained after %d jobs" % done, flush=True)
while True:
    signal.pause()  # stay up until that signal, not just until the work ends
