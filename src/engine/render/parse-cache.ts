import type { Liquid, Template } from 'liquidjs';
import { RenderError } from './render-error.ts';

/** Parsed templates kept per engine; the same template strings come back on every run of a workflow. */
const MAX_ENTRIES = 1000;
const caches = new WeakMap<Liquid, Map<string, Template[]>>();

/** `source` parsed by `engine`, from the cache when it was parsed before. Syntax errors are render errors. */
export function parseCached(engine: Liquid, source: string): Template[] {
  let cache = caches.get(engine);
  if (!cache) {
    cache = new Map();
    caches.set(engine, cache);
  }
  const hit = cache.get(source);
  if (hit) {
    // Re-inserted so the map's insertion order is least recently used first.
    cache.delete(source);
    cache.set(source, hit);
    return hit;
  }
  let parsed: Template[];
  try {
    parsed = engine.parse(source);
  } catch (error) {
    throw new RenderError(`Liquid syntax error: ${(error as Error).message}`, { cause: error });
  }
  cache.set(source, parsed);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  return parsed;
}
