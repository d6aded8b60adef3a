/**
 * The role × capability table of environments.md §3, as data. Every management route
 * names one capability (see route-permissions.ts); `decide` is the only place that
 * answers "may this principal do that, there?".
 */

export const ROLES = ['owner', 'admin', 'member', 'production_only_member', 'support', 'billing'] as const;
export type Role = (typeof ROLES)[number];

/** Herald, beyond Knock: a member or token whose permissions come from a permission group. */
export const CUSTOM_ROLE = 'custom';
/** Roles a member or service token may be given: the built-in ones, or `custom` with a permission group. */
export const ASSIGNABLE_ROLES = [...ROLES, CUSTOM_ROLE] as const;
export type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];

/** A permission group's levels in one environment, lowest first (an environment not listed is `none`). */
export const ACCESS_LEVELS = ['none', 'view', 'manage'] as const;
export const RELEASE_LEVELS = ['none', 'commit', 'manage'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
export type ReleaseLevel = (typeof RELEASE_LEVELS)[number];
export interface EnvironmentLevels {
  access: AccessLevel;
  release: ReleaseLevel;
}

/** A permission group as `decide` needs it: its levels by environment id. */
export interface PermissionGroupGrant {
  id: string;
  name: string;
  environments: Record<string, EnvironmentLevels>;
}

type Scope = 'account' | 'environment';

interface CapabilityRule {
  scope: Scope;
  roles: readonly Role[];
  description: string;
  /**
   * What a permission group must give in the environment for this capability (absent: a
   * group never grants it). Every environment-scoped grant also needs access other than
   * `none`; `{}` = any access (account-level: always).
   */
  group?: { access?: AccessLevel; release?: ReleaseLevel };
}

const EDITORS = ['owner', 'admin', 'member', 'production_only_member'] as const;

export const CAPABILITIES = {
  'account.read': { scope: 'account', roles: ROLES, description: 'see the account and the environments one may access', group: {} },
  'billing.manage': { scope: 'account', roles: ['owner', 'billing'], description: 'manage billing' },
  'account.delete': { scope: 'account', roles: ['owner'], description: 'delete the account' },
  'account.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'change account settings (production write access)' },
  'environments.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'create environments and edit their settings' },
  'audit.read': { scope: 'account', roles: ['owner', 'admin'], description: 'read the audit log' },
  'members.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'invite and manage members' },
  'service_tokens.manage': { scope: 'account', roles: ['owner', 'admin'], description: 'create and revoke service tokens' },
  'secrets.manage': { scope: 'environment', roles: ['owner', 'admin'], description: 'create and revoke API keys, variables and signing keys' },
  'api_keys.read': { scope: 'environment', roles: EDITORS, description: 'view API keys', group: { access: 'view' } },
  'content.read': { scope: 'environment', roles: EDITORS, description: 'view workflows, layouts, partials and translations', group: { access: 'view' } },
  'content.manage': { scope: 'environment', roles: EDITORS, description: 'create and edit workflows, layouts, partials and translations', group: { access: 'manage' } },
  'release.commit': { scope: 'environment', roles: EDITORS, description: 'commit changes', group: { release: 'commit' } },
  'release.manage': { scope: 'environment', roles: EDITORS, description: 'promote, revert, roll back and approve promotions', group: { release: 'manage' } },
  'recipients.manage': { scope: 'environment', roles: EDITORS, description: 'manage users, objects and tenants', group: { access: 'manage' } },
  'data.read': { scope: 'environment', roles: [...EDITORS, 'support'], description: 'view users, objects, tenants, messages and logs', group: { access: 'view' } },
  'data.reveal': { scope: 'environment', roles: ['owner', 'admin'], description: 'reveal one obfuscated record, with a reason (audited)' },
} as const satisfies Record<string, CapabilityRule>;

export type Capability = keyof typeof CAPABILITIES;

/** Who is asking, as far as permissions go. */
export interface Grantee {
  role: string;
  /** Environment ids the principal is limited to (service tokens may be); null = no limit. */
  environmentIds: string[] | null;
  /** With role `custom`: the permission group its capabilities come from. */
  permissionGroup?: PermissionGroupGrant | null;
}

export interface EnvironmentRef {
  id: string;
  slug: string;
}

export type Decision = { allowed: true } | { allowed: false; reason: string; capability: Capability };

function isRole(role: string): role is Role {
  return (ROLES as readonly string[]).includes(role);
}

const NO_LEVELS: EnvironmentLevels = { access: 'none', release: 'none' };

/** A permission group's levels in an environment (`none` where it lists none). */
export function levelsIn(group: PermissionGroupGrant, environmentId: string): EnvironmentLevels {
  return Object.hasOwn(group.environments, environmentId) ? group.environments[environmentId] : NO_LEVELS;
}

/**
 * Capabilities a role holds (anywhere); for `custom`, the most a permission group can
 * grant (what it grants where is up to its levels).
 */
export function capabilitiesOf(role: string): Capability[] {
  const all = Object.keys(CAPABILITIES) as Capability[];
  if (role === CUSTOM_ROLE) return all.filter((c) => (CAPABILITIES[c] as CapabilityRule).group !== undefined);
  if (!isRole(role)) return [];
  return all.filter((c) => (CAPABILITIES[c].roles as readonly Role[]).includes(role));
}

/**
 * True when `narrower` grants nothing `role` does not: a token carries its creator's role
 * or a narrower one. A production-only creator can only hand on production-only.
 */
export function isWithin(narrower: string, role: string): boolean {
  const known = (r: string) => isRole(r) || r === CUSTOM_ROLE;
  if (!known(narrower) || !known(role)) return false;
  if (role === 'production_only_member' && narrower !== role) return false;
  const mine = capabilitiesOf(role);
  return capabilitiesOf(narrower).every((c) => mine.includes(c));
}

/** Why a permission group does not give `capability` in `environment`, or undefined if it does. */
function groupShortfall(group: PermissionGroupGrant, capability: Capability, environment: EnvironmentRef): string | undefined {
  const needs = (CAPABILITIES[capability] as CapabilityRule).group ?? {};
  const levels = levelsIn(group, environment.id);
  const named = `permission group "${group.name}"`;
  if (levels.access === 'none') return `${named} has no access to "${environment.slug}"`;
  if (needs.access && ACCESS_LEVELS.indexOf(levels.access) < ACCESS_LEVELS.indexOf(needs.access)) {
    return `${named} has access "${levels.access}" in "${environment.slug}"; "${capability}" needs "${needs.access}"`;
  }
  if (needs.release && RELEASE_LEVELS.indexOf(levels.release) < RELEASE_LEVELS.indexOf(needs.release)) {
    return `${named} has release "${levels.release}" in "${environment.slug}"; "${capability}" needs "${needs.release}"`;
  }
  return undefined;
}

/**
 * May `grantee` use `capability` in `environment` (for environment-scoped capabilities;
 * `'all'` = across every environment at once)?
 * Production-only members act in production only, and only while production write
 * access is on; environment-limited tokens only in their environments. Members and
 * tokens of a permission group (role `custom`) hold, account-wide, only `account.read`,
 * and in each environment what the group's levels there give (access `none`: nothing).
 */
export function decide(
  grantee: Grantee,
  capability: Capability,
  environment: EnvironmentRef | 'all' | undefined,
  account: { productionWriteAccess: boolean },
): Decision {
  const rule: CapabilityRule = CAPABILITIES[capability];
  const deny = (reason: string): Decision => ({ allowed: false, reason, capability });
  const group = grantee.role === CUSTOM_ROLE ? grantee.permissionGroup : undefined;
  if (grantee.role === CUSTOM_ROLE) {
    if (!group) return deny('role "custom" needs a permission group');
    if (!rule.group) return deny(`permission group "${group.name}" cannot grant "${capability}" (${rule.description}); it needs a built-in role`);
  } else {
    if (!isRole(grantee.role)) return deny(`unknown role "${grantee.role}"`);
    if (grantee.role === 'production_only_member' && !account.productionWriteAccess) {
      return deny('the production-only member role exists only while production write access is on');
    }
    if (!(rule.roles as readonly Role[]).includes(grantee.role)) return deny(`role "${grantee.role}" lacks "${capability}" (${rule.description})`);
  }
  if (environment === 'all') {
    // Across every environment (e.g. an unfiltered commit history): unlimited grantees only.
    if (grantee.role === 'production_only_member' || group || grantee.environmentIds) return deny('limited to some environments: name one');
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
    const shortfall = group && groupShortfall(group, capability, environment);
    if (shortfall) return deny(shortfall);
  }
  return { allowed: true };
}

/** Whether a grantee may see an environment at all (for filtering lists). */
export function canSeeEnvironment(grantee: Grantee, environment: EnvironmentRef, account: { productionWriteAccess: boolean }): boolean {
  return decide(grantee, 'account.read', environment, account).allowed;
}

/**
 * Whether environment lists hide an environment from a grantee: one its permission group
 * gives no access to. (Built-in roles and environment-limited tokens list every
 * environment, as they always have, and are refused inside the ones they may not use.)
 */
export function hidesEnvironment(grantee: Grantee, environment: EnvironmentRef): boolean {
  if (grantee.role !== CUSTOM_ROLE) return false;
  return !grantee.permissionGroup || levelsIn(grantee.permissionGroup, environment.id).access === 'none';
}
