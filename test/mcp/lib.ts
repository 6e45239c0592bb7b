/**
 * MCP clients for the tests: the official SDK Client over streamable HTTP (/mcp) and over stdio
 * (`orchestrator mcp` as a child process), and a tool call that gives the parsed JSON answer.
 */
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Test } from 'tap';
import { BIN, ROOT } from '../helpers/process.mjs';
import { cleanEnv } from '../cli/run.js';

export const READ_TOOLS = ['dependency_graph', 'fleet_summary', 'get_service', 'list_events', 'list_services', 'search_logs', 'tail_logs'];
export const OPERATE_TOOLS = ['reload_config', 'restart_service', 'start_service', 'stop_service'];
export const ADMIN_TOOLS = ['register_service', 'remove_service', 'update_service'];
export const ALL_TOOLS = [...READ_TOOLS, ...OPERATE_TOOLS, ...ADMIN_TOOLS].sort();

export interface Connected {
  client: Client;
  transport: StreamableHTTPClientTransport | StdioClientTransport;
  /** Errors the client reported (a line on stdout that is not protocol, a broken stream). */
  errors: Error[];
}

export async function httpClient(t: Test, url: string, key?: string): Promise<Connected & { transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: key ? { 'x-api-key': key } : {} } });
  const client = new Client({ name: 'tap', version: '1.0.0' });
  const errors: Error[] = [];
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  t.teardown(() => client.close().catch(() => undefined));
  return { client, transport, errors };
}

export async function stdioClient(t: Test, env: Record<string, string>): Promise<Connected & { transport: StdioClientTransport; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp'], env: cleanEnv(env) as Record<string, string>, cwd: ROOT, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const client = new Client({ name: 'tap', version: '1.0.0' });
  const errors: Error[] = [];
  client.onerror = (e) => errors.push(e);
  await client.connect(transport);
  t.teardown(() => client.close().catch(() => undefined));
  return { client, transport, errors, stderr: () => stderr };
}

export interface ToolAnswer {
  isError: boolean;
  json: any;
}

/** Call a tool; its one text content parsed as JSON. */
export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const r = await client.callTool({ name, arguments: args }) as { isError?: boolean; content: Array<{ type: string; text: string }> };
  return { isError: !!r.isError, json: JSON.parse(r.content[0]!.text) };
}

/** A pid is alive: it exists and is not a zombie (Z counts as gone). */
export function running(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
