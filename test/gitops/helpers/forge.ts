/**
 * A fake GitHub and GitLab REST API on 127.0.0.1, with just the endpoints the example pipelines
 * use (examples/ci/lvchain-ci.mjs): PR comments, MR notes, and GitLab's merge request →
 * pipeline → job → artifact lookups. Requests without the right token get 401.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Comment {
  id: number;
  body: string;
}

export interface GitlabPipeline {
  id: number;
  sha: string;
  status: 'success' | 'failed';
  mr?: number;
  jobs: { id: number; name: string; status: 'success' | 'failed'; artifacts: string }[];
}

export const TOKEN = 'test-token-0123';
export const PROJECT_ID = '42';

export class FakeForge {
  /** GitHub PR comments, by PR number. */
  readonly comments = new Map<number, Comment[]>();
  /** GitLab MR notes, by MR iid. */
  readonly notes = new Map<number, Comment[]>();
  /** GitLab: merge requests a commit belongs to. */
  readonly commitMrs = new Map<string, { iid: number; state: 'merged' | 'opened' }[]>();
  readonly pipelines: GitlabPipeline[] = [];
  readonly log: string[] = [];
  private nextId = 1000;
  private server!: Server;
  url = '';

  static async start(): Promise<FakeForge> {
    const f = new FakeForge();
    f.server = createServer((req, res) => {
      f.handle(req, res).catch((e: unknown) => f.send(res, 500, { message: String(e) }));
    });
    await new Promise<void>((ok) => f.server.listen(0, '127.0.0.1', ok));
    f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    return f;
  }

  async stop(): Promise<void> {
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async body(req: IncomingMessage): Promise<{ body?: unknown }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return chunks.length > 0
      ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { body?: unknown })
      : {};
  }

  private page<T>(items: readonly T[], url: URL): T[] {
    const per = Number(url.searchParams.get('per_page') ?? 30);
    const page = Number(url.searchParams.get('page') ?? 1);
    return items.slice((page - 1) * per, page * per);
  }

  private upsert(list: Comment[], id: number | undefined, body: unknown): Comment | undefined {
    if (typeof body !== 'string') return undefined;
    if (id === undefined) {
      const c = { id: this.nextId++, body };
      list.push(c);
      return c;
    }
    const c = list.find((x) => x.id === id);
    if (c) c.body = body;
    return c;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    this.log.push(`${method} ${url.pathname}`);
    const p = url.pathname;
    if (p.startsWith('/api/v4/')) {
      if (req.headers['private-token'] !== TOKEN) return this.send(res, 401, { message: '401 Unauthorized' });
      return this.gitlab(method, p.slice('/api/v4'.length), url, req, res);
    }
    if (req.headers['authorization'] !== `Bearer ${TOKEN}`)
      return this.send(res, 401, { message: 'Bad credentials' });
    let m = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(p);
    if (m) {
      const list = this.comments.get(Number(m[1])) ?? [];
      this.comments.set(Number(m[1]), list);
      if (method === 'GET') return this.send(res, 200, this.page(list, url));
      if (method === 'POST') {
        const c = this.upsert(list, undefined, (await this.body(req)).body);
        return c ? this.send(res, 201, c) : this.send(res, 422, { message: 'body is missing' });
      }
    }
    m = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(p);
    if (m && method === 'PATCH') {
      const all = [...this.comments.values()].find((l) => l.some((c) => c.id === Number(m?.[1])));
      const c = all && this.upsert(all, Number(m[1]), (await this.body(req)).body);
      return c ? this.send(res, 200, c) : this.send(res, 404, { message: 'Not Found' });
    }
    return this.send(res, 404, { message: `Not Found: ${method} ${p}` });
  }

  private async gitlab(
    method: string,
    p: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const project = `/projects/${PROJECT_ID}`;
    if (!p.startsWith(project)) return this.send(res, 404, { message: '404 Project Not Found' });
    const rest = p.slice(project.length);
    let m = /^\/merge_requests\/(\d+)\/notes(?:\/(\d+))?$/.exec(rest);
    if (m) {
      const iid = Number(m[1]);
      const list = this.notes.get(iid) ?? [];
      this.notes.set(iid, list);
      if (method === 'GET' && !m[2]) return this.send(res, 200, this.page(list, url));
      if (method === 'POST' && !m[2]) {
        const c = this.upsert(list, undefined, (await this.body(req)).body);
        return c ? this.send(res, 201, c) : this.send(res, 400, { message: 'body is missing' });
      }
      if (method === 'PUT' && m[2]) {
        const c = this.upsert(list, Number(m[2]), (await this.body(req)).body);
        return c ? this.send(res, 200, c) : this.send(res, 404, { message: '404 Not found' });
      }
    }
    m = /^\/repository\/commits\/([0-9a-f]+)\/merge_requests$/.exec(rest);
    if (m && method === 'GET') return this.send(res, 200, this.commitMrs.get(m[1] as string) ?? []);
    m = /^\/merge_requests\/(\d+)\/pipelines$/.exec(rest);
    if (m && method === 'GET') {
      const mine = this.pipelines.filter((x) => x.mr === Number(m?.[1])).reverse();
      return this.send(
        res,
        200,
        mine.map((x) => ({ id: x.id, sha: x.sha, status: x.status })),
      );
    }
    m = /^\/pipelines\/(\d+)\/jobs$/.exec(rest);
    if (m && method === 'GET') {
      const pl = this.pipelines.find((x) => x.id === Number(m?.[1]));
      const scope = url.searchParams.getAll('scope[]');
      const jobs = (pl?.jobs ?? []).filter((j) => scope.length === 0 || scope.includes(j.status));
      return this.send(
        res,
        200,
        jobs.map((j) => ({ id: j.id, name: j.name, status: j.status })),
      );
    }
    m = /^\/jobs\/(\d+)\/artifacts\/(.+)$/.exec(rest);
    if (m && method === 'GET') {
      const job = this.pipelines.flatMap((x) => x.jobs).find((j) => j.id === Number(m?.[1]));
      if (!job) return this.send(res, 404, { message: '404 Not found' });
      try {
        const data = await readFile(join(job.artifacts, m[2] as string));
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(data);
        return;
      } catch {
        return this.send(res, 404, { message: '404 Not found' });
      }
    }
    return this.send(res, 404, { message: `404 Not found: ${method} ${p}` });
  }
}
