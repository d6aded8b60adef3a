import type { Principal } from '../access/service-tokens.ts';

/** Who made a commit, promotion, revert or rollback. */
export interface Author {
  kind: 'member' | 'service_token' | 'system';
  id: string | null;
  email: string;
  name: string | null;
}

/** Changes made with a service token name the token (and carry its creator's email). */
export function authorOf(principal: Principal): Author {
  return {
    kind: 'service_token',
    id: principal.tokenId,
    email: principal.memberEmail ?? 'service-token@herald.local',
    name: principal.name,
  };
}

/** Herald itself, e.g. when seeding a new environment. */
export const SYSTEM_AUTHOR: Author = { kind: 'system', id: null, email: 'system@herald.local', name: 'Herald' };
