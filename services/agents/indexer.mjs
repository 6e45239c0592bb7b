#!/usr/bin/env node
// Example background worker (no HTTP): every few seconds it "indexes" documents by asking the
// summarizer agent for summaries. It depends on the summarizer, so the orchestrator starts it
// only once that agent is healthy.
const target = process.env.SUMMARIZER_URL ?? 'http://127.0.0.1:8002';
let n = 0;

async function tick() {
  n++;
  try {
    const res = await fetch(`${target}/summarize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: `Document ${n} is about agents. It has more sentences.` }),
    });
    const { summary } = await res.json();
    console.log(`indexed document ${n}: ${summary}`);
  } catch (err) {
    console.error(`document ${n} failed: ${err.message}`);
  }
}

const timer = setInterval(tick, Number(process.env.INTERVAL_MS ?? 5000));
tick();
process.on('SIGTERM', () => { clearInterval(timer); console.log('indexer stopping'); process.exit(0); });
