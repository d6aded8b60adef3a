import type { EngineConfig } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { JobName, JobPayloads } from './queue.ts';
import { expandTrigger } from './expand.ts';
import { executeRuns } from './execute.ts';

export interface EngineDeps {
  db: Db;
  accountId: string;
  config: EngineConfig;
}

/** The queue's task handlers: expand a trigger into recipient runs; execute recipient runs. */
export function engineTasks(deps: EngineDeps): { [N in JobName]: (payload: JobPayloads[N]) => Promise<void> } {
  return {
    trigger: (payload) => expandTrigger(deps, payload.e, payload.run),
    run: (payload) => executeRuns(deps, payload.e, payload.runs),
  };
}
