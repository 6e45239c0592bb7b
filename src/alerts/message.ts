/**
 * What a sink is sent. A webhook gets the event and the service as the API shows them, signed
 * (HMAC-SHA256 of the raw body) when the sink has a secret; Slack gets a readable message in its
 * incoming-webhook format. A body is made once per delivery and sent byte for byte on every retry.
 */
import { createHmac } from 'node:crypto';
import type { PresentedEvent, PresentedService } from '../api/types.js';

export interface AlertContent {
  delivery_id: string;
  sink: string;
  orchestrator: { name: string; url: string };
  /** The reason matched (crashed, failed, …) or the event type. */
  reason: string;
  /** Matching events this message stands for (more than 1: a storm folded into one message). */
  count: number;
  /** The first of them (ISO time); `event` is the latest. */
  first_at: string;
  event: PresentedEvent;
  service: PresentedService | null;
  test: boolean;
}

export const SIGNATURE_HEADER = 'x-orchestrator-signature';
export const DELIVERY_HEADER = 'x-orchestrator-delivery';

export function webhookBody(c: AlertContent): string {
  return JSON.stringify(c);
}

/** `sha256=<hex>` of HMAC-SHA256(secret, body). */
export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** One line saying what happened, for Slack and logs. */
export function headline(c: AlertContent): string {
  const e = c.event;
  const who = e.service ?? 'orchestrator';
  if (c.test) return `Test alert from ${c.orchestrator.name} (sink ${c.sink})`;
  const d = e.data;
  let what: string;
  if (e.type === 'exit') {
    const how = d.signal ? `signal ${String(d.signal)}` : d.code !== undefined && d.code !== null ? `code ${String(d.code)}` : '';
    what = `exited: ${c.reason}${how ? ` (${how})` : ''}`;
  } else if (e.type === 'state') {
    what = `is ${String(d.to)}${typeof d.reason === 'string' ? `: ${d.reason}` : ''}`;
  } else if (e.type === 'health') {
    what = `health ${String(d.from)} → ${String(d.to)}${typeof d.reason === 'string' ? ` (${d.reason})` : ''}`;
  } else {
    const detail = typeof d.message === 'string' ? d.message : typeof d.reason === 'string' ? d.reason : '';
    what = `${e.type}${detail ? `: ${detail}` : ''}`;
  }
  return `${who} ${what}`;
}

/** Slack's incoming-webhook format: `text` (notifications, fallbacks) and blocks. */
export function slackBody(c: AlertContent): string {
  const times = c.count > 1 ? ` (${c.count} times since ${c.first_at})` : '';
  const text = `${c.test ? ':white_check_mark:' : ':rotating_light:'} [${c.orchestrator.name}] ${headline(c)}${times}`;
  const facts: string[] = [`*Event:* ${c.event.type}`, `*Reason:* ${c.reason}`];
  if (c.service) facts.push(`*State:* ${c.service.state} (${c.service.health})`, `*Restarts:* ${c.service.restarts}`);
  if (c.count > 1) facts.push(`*Count:* ${c.count}`);
  const blocks = [
    { type: 'section', text: { type: 'mrkdwn', text: escape(text) } },
    { type: 'section', fields: facts.map((f) => ({ type: 'mrkdwn', text: escape(f) })) },
    { type: 'context', elements: [{ type: 'mrkdwn', text: escape(`${c.orchestrator.name} · ${c.orchestrator.url} · ${c.event.at} · delivery ${c.delivery_id}`) }] },
  ];
  return JSON.stringify({ text, blocks });
}

/** Slack's three control characters in mrkdwn. */
function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
