/**
 * The role × capability table of environments.md §3, as data. Every management route
 * names one capability (see route-permissions.ts); `decide` is the only place that
 * answers "may this principal do that, there?".
 */

export const ROLES = ['owner', 'admin', 'member', 'production_only_member', 'support', 'billing'] as const;
export type Role = (typeof ROLES)[number];

type Scope = 'account' | 'environment';

interface CapabilityRule {
  scope: Scope;
  roles: readonly Role[];
  description: string;
}

const EDITORS = ['owner', 'admin', 'member', 'production_only_member'] as const;

export const CAPABILITIES = {
  'account.read': { scope: 'account', roles: ROLES, description: 'see the account and the environments one may access' },
  'billing.manage': { scope: 'account', roles: ['owner', 'billing'], description: 'manage billing' },
  'account.delete': { scope: 'account', roles: ['owner'], description: 'delete the account' },
  'account.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'change account settings (production write access)' },
  'environments.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'create environments and edit their settings' },
  'audit.read': { scope: 'account', roles: ['owner', 'admin'], description: 'read the audit log' },
  'members.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'invite and manage members' },
  'service_tokens.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'create and revoke service tokens' },
  'secrets.manage': { scope: 'environment', roles: ['owner', 'admin'], description: 'create and revoke API keys, variables and signing keys' },
  'api_keys.read': { scope: 'environment', roles: EDITORS, description: 'view API keys' },
  'content.read': { scope: 'environment', roles: EDITORS, description: 'view workflows, layouts, partials and translations' },
  'content.manage': { scope: 'environment', roles: EDITORS, description: 'create and edit workflows, layouts, partials and translations' },
  'release.manage': { scope: 'environment', roles: EDITORS, description: 'commit, promote, revert and roll back' },
  'recipients.manage': { scope: 'environment', roles: EDITORS, description: 'manage users, objects and tenants' },
  'data.read': { scope: 'environment', roles: [...EDITORS, 'support'], description: 'view users, objects, tenants, messages and logs' },
  'data.reveal': { scope: 'environment', roles: ['owner', 'admin'], description: 'reveal one obfuscated record, with a reason (audited)' },
} as const satisfies Record<string, CapabilityRule>;

export type Capability = keyof typeof CAPABILITIES;

/** Who is asking, as far as permissions go. */
export interface Grantee {
  role: string;
  /** Environment ids the principal is limited to (service tokens may be); null = no limit. */
  environmentIds: string[] | null;
}

export interface EnvironmentRef {
  id: string;
  slug: string;
}

export type Decision = { allowed: true } | { allowed: false; reason: string; capability: Capability };

function isRole(role: string): role is Role {
  return (ROLES as readonly string[]).includes(role);
}

/** Capabilities a role holds (anywhere). */
export function capabilitiesOf(role: string): Capability[] {
  if (!isRole(role)) return [];
  return (Object.keys(CAPABILITIES) as Capability[]).filter((c) => (CAPABILITIES[c].roles as readonly Role[]).includes(role));
}

/**
 * True when `narrower` grants nothing `role` does not: a token carries its creator's role
 * or a narrower one. A production-only creator can only hand on production-only.
 */
export function isWithin(narrower: string, role: string): boolean {
  if (!isRole(narrower) || !isRole(role)) return false;
  if (role === 'production_only_member' && narrower !== role) return false;
  const mine = capabilitiesOf(role);
  return capabilitiesOf(narrower).every((c) => mine.includes(c));
}

/**
 * May `grantee` use `capability` in `environment` (for environment-scoped capabilities;
 * `'all'` = across every environment at once)?
 * Production-only members act in production only, and only while production write
 * access is on; environment-limited tokens only in their environments.
 */
export function decide(
  grantee: Grantee,
  capability: Capability,
  environment: EnvironmentRef | 'all' | undefined,
  account: { productionWriteAccess: boolean },
): Decision {
  const rule: CapabilityRule = CAPABILITIES[capability];
  const deny = (reason: string): Decision => ({ allowed: false, reason, capability });
  if (!isRole(grantee.role)) return deny(`unknown role "${grantee.role}"`);
  if (grantee.role === 'production_only_member' && !account.productionWriteAccess) {
    return deny('the production-only member role exists only while production write access is on');
  }
  if (!(rule.roles as readonly Role[]).includes(grantee.role)) return deny(`role "${grantee.role}" lacks "${capability}" (${rule.description})`);
  if (environment === 'all') {
    // Across every environment (e.g. an unfiltered commit history): unlimited grantees only.
    if (grantee.role === 'production_only_member' || grantee.environmentIds) return deny('limited to some environments: name one');
    return { allowed: true };
  }
  if (rule.scope === 'environment' || environment) {
    if (!environment) return deny(`"${capability}" needs an environment`);
    if (grantee.role === 'production_only_member' && environment.slug !== 'production') {
      return deny(`role "production_only_member" may act in production only, not "${environment.slug}"`);
    }
    if (grantee.environmentIds && !grantee.environmentIds.includes(environment.id)) {
      return deny(`this token is limited to other environments than "${environment.slug}"`);
    }
  }
  return { allowed: true };
}

/** Whether a grantee may see an environment at all (for filtering lists). */
export function canSeeEnvironment(grantee: Grantee, environment: EnvironmentRef, account: { productionWriteAccess: boolean }): boolean {
  return decide(grantee, 'account.read', environment, account).allowed;
}
