import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { writeRunStatus } from '../experiment/run-status.js';
import { bigMetrics, probeRelay } from '../test/relay-probe.js';
import { rawGet, rawUpgrade } from '../test/raw-http.js';
import { waitFor } from '../test/wait-for.js';
import { CHROMIUM, launchChromium, makeRun, openDashboard, type Closers } from './test-fixtures.js';

const closers: Closers = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('the dashboard under bad input', () => {
  it('a malformed URL gets 400, on plain HTTP routes and on WebSocket upgrades, and the server goes on', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    makeRun(root, 'sac', 0, [-50]);
    const d = await openDashboard(closers, root);
    const url = new URL(d.url);
    const token = url.searchParams.get('token') as string;
    for (const path of [`/teleop/%E0%A4%A/?token=${token}`, `/teleop/%/?token=${token}`, `//[::/?token=${token}`, `/api/runs%ZZ?token=${token}`]) {
      expect({ path, status: await rawGet(url, path) }).toEqual({ path, status: 400 });
    }
    for (const path of [`/teleop/%E0%A4%A/ws?token=${token}`, `/teleop/%/ws?token=${token}`, `//[::/ws?token=${token}`]) {
      expect({ path, status: await rawUpgrade(url, path) }).toEqual({ path, status: 'HTTP/1.1 400 Bad Request' });
    }
    // Still serving.
    expect(await rawGet(url, `/api/runs?token=${token}`)).toBe(200);
    const ws = new WebSocket(`ws://${url.host}/ws?token=${token}`);
    closers.push(() => ws.close());
    await new Promise((r, j) => ws.once('open', r).once('error', j));
  });

  it('a recording that cannot be read (a folder named like one) is a problem in the page, and the server goes on', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    const run = makeRun(root, 'sac', 0, [-50]);
    mkdirSync(join(run, 'scenes', 'eval-1.scene.jsonl'), { recursive: true });
    const d = await openDashboard(closers, root);
    const url = new URL(d.url);
    const ws = new WebSocket(`ws://${url.host}/ws?token=${url.searchParams.get('token')}`);
    closers.push(() => ws.close());
    const messages: { op?: unknown; message?: unknown }[] = [];
    ws.on('message', (m) => messages.push(JSON.parse(m.toString()) as { op?: unknown; message?: unknown }));
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    ws.send(JSON.stringify({ op: 'scene', run: 'sac-0', file: 'eval-1.scene.jsonl' }));
    await waitFor('the problem', () => messages.some((m) => m.op === 'problem' && /not a regular file/.test(String(m.message))), 10_000);
    ws.send(JSON.stringify({ op: 'watch', runs: ['sac-0'] }));
    await waitFor('records after it', () => messages.some((m) => m.op === 'records'), 10_000);
    expect((await fetch(`http://${url.host}/api/runs?token=${url.searchParams.get('token')}`)).status).toBe(200);
  });

  it('a FIFO, a link to /dev/zero or a 100 KB config in a run folder is a problem in its row, not a run list that never answers', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    makeRun(root, 'sac', 0, [-50]);
    const odd = makeRun(root, 'odd', 0, [-40], 'running');
    const pipe = makeRun(root, 'pipe', 0, [-30]);
    const fifos = [join(odd, 'status.json'), join(pipe, 'metrics.jsonl'), join(odd, 'teleop.json')];
    rmSync(fifos[0] as string);
    rmSync(fifos[1] as string);
    for (const f of fifos) execFileSync('mkfifo', [f]);
    // A reader blocked in open() holds an fs thread for good: open the writing ends when done.
    closers.push(() => {
      for (const f of fifos) {
        try {
          closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {
          // nobody reading
        }
      }
    });
    rmSync(join(odd, 'config.yaml'));
    symlinkSync('/dev/zero', join(odd, 'config.yaml'));
    // YAML parses at ~50 KB/s here, on the server's one thread: a config of 100 KB is not parsed (train writes ~1 KB).
    const big = makeRun(root, 'big', 0, [-20]);
    writeFileSync(join(big, 'config.yaml'), Array.from({ length: 10_000 }, (_, i) => `key${i}: ${i}`).join('\n'));
    const d = await openDashboard(closers, root);
    const url = new URL(d.url);
    const token = url.searchParams.get('token') as string;
    const list = async (): Promise<{ id: string; problems: string[] }[] | 'no answer'> => {
      const answer = fetch(`http://${url.host}/api/runs?token=${token}`).then(async (r) => ((await r.json()) as { runs: { id: string; problems: string[] }[] }).runs);
      return Promise.race([answer, new Promise<'no answer'>((r) => setTimeout(() => r('no answer'), 20_000))]);
    };
    const runs = await list();
    expect(runs).not.toBe('no answer');
    if (runs === 'no answer') return;
    expect(runs.map((r) => r.id)).toEqual(['big-0', 'odd-0', 'pipe-0', 'sac-0']);
    expect(runs.shift()?.problems).toEqual([expect.stringMatching(/^config\.yaml: \d+ bytes \(at most 65536 are read\)$/)]);
    expect(runs[0]?.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^config\.yaml: not a regular file/), expect.stringMatching(/^status\.json: not a regular file/)]));
    expect(runs[1]?.problems).toEqual([expect.stringMatching(/metrics\.jsonl: not a regular file/)]);
    // The teleop relay of a run whose teleop.json is a FIFO says so and closes.
    const relay = new WebSocket(`ws://${url.host}/teleop/odd-0/ws?token=${token}`);
    closers.push(() => relay.terminate());
    const closed = new Promise<number>((r) => relay.once('close', (code) => r(code)));
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('no answer'), 20_000))])).toBe(4004);
    expect(await list()).not.toBe('no answer');
  });

  it('reading run folders does not hold up the teleop relay: 50 runs and a 32 MB metrics file, pages reading the list and watching the big run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    for (let i = 0; i < 50; i++) makeRun(root, `m${i % 5}`, i, Array.from({ length: 200 }, (_, k) => -k));
    const big = join(root, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'config.yaml'), 'name: big\nseed: 0\n');
    bigMetrics(join(big, 'metrics.jsonl'), 32 * 2 ** 20);
    const hil = makeRun(root, 'hil', 0, [-3], 'running');
    const d = await openDashboard(closers, root);
    const url = new URL(d.url);
    const token = url.searchParams.get('token') as string;
    const base = `http://${url.host}`;
    let watched = 0;
    const latency = await probeRelay(d.url, hil, 'hil-0', {
      durationMs: 6000,
      load: async () => {
        // Four pages: each reads the run list every 2 s; one watches the big run.
        const page = new WebSocket(`ws://${url.host}/ws?token=${token}`);
        closers.push(() => page.close());
        page.on('message', (m) => {
          const msg = JSON.parse(m.toString()) as { op: string; records?: unknown[] };
          if (msg.op === 'records') watched += msg.records?.length ?? 0;
        });
        await new Promise((r) => page.once('open', r));
        page.send(JSON.stringify({ op: 'watch', runs: ['big'] }));
        const lists = Array.from({ length: 4 }, async (_, p) => {
          await new Promise((r) => setTimeout(r, 300 * p));
          for (let t = 0; t < 3; t++) {
            const res = await fetch(`${base}/api/runs?token=${token}`);
            expect(res.status).toBe(200);
            await res.json();
            await new Promise((r) => setTimeout(r, 2000));
          }
        });
        await Promise.all(lists);
      },
    });
    // Speed goes to the benchmark (npm run bench -- dashboard: p99 ≤ 50 ms); here only what a
    // blocked server cannot meet even on a loaded machine: no command lost, none held up 0.4 s.
    expect(latency.received).toBe(latency.sent);
    expect(latency.p99Ms).toBeLessThan(400);
    expect(watched).toBeGreaterThan(0);
  }, 120_000);
});

const XSS = (what: string): string => `<img src=x onerror="__xss.push('${what}')">`;

describe('the dashboard page in real headless Chromium', () => {
  beforeAll(() => {
    if (!existsSync(CHROMIUM)) throw new Error(`these tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium); .ci/run installs it`);
  });

  it('markup in a run folder (folder, config, env, algorithm, status fields, metric names, scene shapes) is shown as text and runs no script', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    const dir = join(root, XSS('folder'));
    mkdirSync(join(dir, 'scenes'), { recursive: true });
    writeFileSync(join(dir, 'config.yaml'), `name: ${JSON.stringify(XSS('name'))}\nenv: { id: ${JSON.stringify(XSS('env'))} }\nalgo: { kind: ${JSON.stringify(XSS('algo'))} }\nseed: ${JSON.stringify(XSS('seed'))}\n`);
    writeFileSync(join(dir, 'status.json'), JSON.stringify({ state: XSS('state'), pid: XSS('pid'), step: XSS('step'), steps: XSS('steps'), error: XSS('error') }));
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      [
        { type: 'eval', step: 100, returnMean: -3, successRate: 0.5, costMeans: { [XSS('cost')]: 0.25 } },
        { type: 'eval', step: 200, returnMean: -2, successRate: XSS('successRate'), costMeans: { [XSS('cost')]: 0.5 } },
        { type: XSS('type'), step: 100, [XSS('metric')]: 1 },
        { type: XSS('type'), step: 200, [XSS('metric')]: 2 },
      ]
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(''),
    );
    const shape = { name: XSS('shape'), kind: 'sphere', size: [0.1], role: XSS('role') };
    writeFileSync(join(dir, 'scenes', 'eval-1.scene.jsonl'), [{ type: 'scene', env: XSS('scene-env'), hz: 25, episode: 0, shapes: [shape] }, { type: 'frame', episode: XSS('episode'), t: XSS('t'), poses: [0, 0, 0, 0, 0, 0, 1], reward: XSS('reward') }, { type: 'frame', episode: 0, t: 1, poses: [0, 0, 0.1, 0, 0, 0, 1], reward: 0.5 }].map((l) => `${JSON.stringify(l)}\n`).join(''));
    const d = await openDashboard(closers, root);
    const b = await launchChromium(closers);
    const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
    await page.addInitScript(() => ((window as unknown as { __xss: string[] }).__xss = []));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(d.url);
    await page.locator('#runs tbody tr').first().waitFor({ timeout: 30_000 });
    await expect.poll(() => page.locator(`.chart[data-metric="eval.returnMean"]`).getAttribute('data-points'), { timeout: 30_000 }).toBe('2');
    await expect.poll(() => page.locator('.chart').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    await page.click('button[data-tab=scene]');
    await expect.poll(() => page.locator('#scene-canvas').getAttribute('data-frames'), { timeout: 30_000 }).not.toBeNull();
    await page.waitForTimeout(500);
    const row = (await page.locator('#runs tbody').innerText()).replace(/\s+/g, ' ');
    expect(row).toContain(XSS('name')); // shown, as text
    expect(row).toContain(XSS('env'));
    const charts = await page.locator('#charts').innerText();
    expect(charts).toContain(XSS('metric'));
    expect(await page.evaluate(() => (window as unknown as { __xss: string[] }).__xss)).toEqual([]);
    expect(await page.locator('img').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 90_000);

  it('a run keeps one colour and one name in every chart and in the run list', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    makeRun(root, 'alpha', 0, [-40, -30, -20]);
    const beta = makeRun(root, 'beta', 1, [-45, -35, -25]);
    // Only beta has episode records: in that chart it is the only line.
    writeFileSync(join(beta, 'metrics.jsonl'), [1, 2, 3].map((i) => `${JSON.stringify({ type: 'eval', step: i * 100, returnMean: -50 + i, successRate: 0 })}\n${JSON.stringify({ type: 'episode', step: i * 100, return: -60 + i })}\n`).join(''));
    const d = await openDashboard(closers, root);
    const b = await launchChromium(closers);
    const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(d.url);
    await expect.poll(() => page.locator('.chart[data-metric="eval.returnMean"]').getAttribute('data-points'), { timeout: 30_000 }).toBe('6');
    await expect.poll(() => page.locator('.chart[data-metric="episode.return"]').getAttribute('data-points'), { timeout: 30_000 }).toBe('3');
    const legends = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('.chart')].map((c) => ({
        metric: c.dataset['metric'],
        lines: [...c.querySelectorAll<HTMLElement>('.u-legend tr.u-series')]
          .filter((r) => r.style.display !== 'none' && (r.querySelector('.u-label')?.textContent ?? '').trim() !== 'step') // not the step axis
          .map((r) => ({ label: (r.querySelector('.u-label')?.textContent ?? '').trim(), color: getComputedStyle(r.querySelector('.u-marker') as HTMLElement).borderTopColor })),
      })),
    );
    const list = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('#runs tbody tr')].map((r) => ({ label: (r.querySelector('.run-label')?.textContent ?? '').trim(), color: r.querySelector<HTMLElement>('.swatch') ? getComputedStyle(r.querySelector('.swatch') as HTMLElement).backgroundColor : null })));
    expect(list.map((r) => r.label).sort()).toEqual(['alpha s0', 'beta s1']);
    const colorOf = new Map(list.map((r) => [r.label, r.color]));
    const seen = legends.flatMap((l) => l.lines);
    expect(seen.length).toBe(5); // return and success rate: both runs; episode return: beta only
    for (const line of seen) expect(line).toEqual({ label: line.label, color: colorOf.get(line.label) });
    expect(new Set(list.map((r) => r.color)).size).toBe(2);
  }, 90_000);

  it('long live sessions stay bounded: a run of 60,000 episodes and a recording of 30,000 frames', async () => {
    const root = mkdtempSync(join(tmpdir(), 'roborl-dash-'));
    const run = makeRun(root, 'long', 0, [-40]);
    writeFileSync(join(run, 'metrics.jsonl'), Array.from({ length: 60_000 }, (_, i) => `${JSON.stringify({ type: 'episode', step: (i + 1) * 10, return: -i / 1000 })}\n`).join(''));
    mkdirSync(join(run, 'scenes'));
    const shapes = [{ name: 'rod', kind: 'capsule', size: [0.02, 0.5], role: 'robot' }];
    writeFileSync(join(run, 'scenes', 'eval-1.scene.jsonl'), [JSON.stringify({ type: 'scene', env: 'Pendulum-v1', hz: 25, episode: 0, shapes }), ...Array.from({ length: 30_000 }, (_, t) => JSON.stringify({ type: 'frame', episode: 0, t, poses: [0, 0, t / 1e4, 0, 0, 0, 1] }))].join('\n') + '\n');
    writeRunStatus(run, { state: 'finished', pid: process.pid, step: 600_000, steps: 600_000 });
    const d = await openDashboard(closers, root);
    const b = await launchChromium(closers);
    const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(d.url);
    const chart = page.locator('.chart[data-metric="episode.return"]');
    await expect.poll(() => chart.getAttribute('data-last-step'), { timeout: 60_000 }).toBe('600000');
    const points = Number(await chart.getAttribute('data-points'));
    expect(points).toBeGreaterThan(1000);
    expect(points).toBeLessThanOrEqual(10_000);
    await page.click('button[data-tab=scene]');
    const canvas = page.locator('#scene-canvas');
    await expect.poll(() => canvas.getAttribute('data-last-t'), { timeout: 60_000 }).toBe('29999');
    const frames = Number(await canvas.getAttribute('data-frames'));
    expect(frames).toBeGreaterThan(1000);
    expect(frames).toBeLessThanOrEqual(20_000);
  }, 120_000);
});
