import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.ts';

/** A flush whose completion the test controls, recording each batch. */
function controlledFlush() {
  const batches: Array<{ key: string; items: string[] }> = [];
  const releases: Array<() => void> = [];
  const flush = (key: string, items: string[]) => {
    batches.push({ key, items });
    return new Promise<Array<string | Error>>((resolve) => {
      releases.push(() => resolve(items.map((i) => (i.startsWith('bad') ? new Error(`bad item ${i}`) : `${key}:${i}`))));
    });
  };
  return { batches, releases, flush };
}

describe('group commit', () => {
  it('writes a lone item at once, then gathers what arrived during the flush into one batch', async () => {
    const { batches, releases, flush } = controlledFlush();
    const gc = new GroupCommit<string, string>({ flush, maxInFlight: 1 });
    const first = gc.submit('env', 'a');
    const rest = ['b', 'c', 'd'].map((i) => gc.submit('env', i));
    expect(batches).toEqual([{ key: 'env', items: ['a'] }]);
    releases[0]();
    expect(await first).toBe('env:a');
    await Promise.resolve();
    expect(batches[1]).toEqual({ key: 'env', items: ['b', 'c', 'd'] });
    releases[1]();
    expect(await Promise.all(rest)).toEqual(['env:b', 'env:c', 'env:d']);
  });

  it('never answers an item before the flush carrying it has finished', async () => {
    const { releases, flush } = controlledFlush();
    const gc = new GroupCommit<string, string>({ flush });
    let settled = false;
    const pending = gc.submit('env', 'a').then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    releases[0]();
    await pending;
    expect(settled).toBe(true);
  });

  it('keeps keys (environments) in separate batches', async () => {
    const { batches, releases, flush } = controlledFlush();
    const gc = new GroupCommit<string, string>({ flush, maxInFlight: 1 });
    const all = [gc.submit('dev', 'a'), gc.submit('prod', 'a'), gc.submit('dev', 'b'), gc.submit('prod', 'b')];
    expect(batches.map((b) => b.key)).toEqual(['dev', 'prod']);
    releases.forEach((r) => r());
    await new Promise((resolve) => setImmediate(resolve));
    releases.slice(2).forEach((r) => r());
    expect(await Promise.all(all)).toEqual(['dev:a', 'prod:a', 'dev:b', 'prod:b']);
    for (const batch of batches) expect(new Set(batch.items).size).toBe(batch.items.length);
  });

  it('never puts two items with the same conflict key in one batch, and keeps their order', async () => {
    const { batches, releases, flush } = controlledFlush();
    const gc = new GroupCommit<string, string>({ flush, maxInFlight: 1, conflictKey: (i) => i[0] });
    const first = gc.submit('env', 'x0');
    const others = ['x1', 'y1', 'x2'].map((i) => gc.submit('env', i));
    releases[0]();
    await first;
    await Promise.resolve();
    expect(batches[1].items).toEqual(['x1', 'y1']);
    releases[1]();
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches[2].items).toEqual(['x2']);
    releases[2]();
    expect(await Promise.all(others)).toEqual(['env:x1', 'env:y1', 'env:x2']);
  });

  it('rejects only the items whose result is an error', async () => {
    const { releases, flush } = controlledFlush();
    const gc = new GroupCommit<string, string>({ flush, maxInFlight: 1 });
    const good = gc.submit('env', 'good');
    releases[0]();
    await good;
    const [ok, bad] = [gc.submit('env', 'ok'), gc.submit('env', 'bad1')];
    await Promise.resolve();
    releases[1]();
    expect(await ok).toBe('env:ok');
    await expect(bad).rejects.toThrow('bad item bad1');
  });
});
