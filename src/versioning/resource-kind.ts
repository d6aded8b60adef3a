import type { TSchema } from 'typebox';
import type { FieldError } from '../errors.ts';

/** The versioned resource types (Knock's commit `resource.type`). */
export const RESOURCE_TYPES = ['workflow', 'email_layout', 'partial', 'translation'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** A resource's stored content: the request fields of its Knock shape, canonicalised. */
export type Content = Record<string, unknown>;

/** What the versioning layer knows about a resource when presenting it. */
export interface ResourceMeta {
  key: string;
  /** Slug of the environment the resource is read in. */
  environment: string;
  /** Workflows only: the per-environment kill switch. */
  active: boolean;
  created_at: string;
  updated_at: string;
  sha: string;
}

/**
 * How one versioned resource type is validated and shaped. The versioning layer
 * (commits, promotion, rollback) is the same for every type; this is what differs.
 */
export interface ResourceKind {
  type: ResourceType;
  /** Route segment, e.g. `workflows`, `email_layouts`. */
  collection: string;
  /** The property wrapping the resource in request and response bodies, e.g. `workflow`. */
  wrapper: string;
  /** JSON schema (TypeBox) of the resource in upsert requests (inside the wrapper). */
  requestSchema: TSchema;
  /** Canonical stored content from a request body: request fields only (read-only fields such as key, sha, timestamps, environment dropped). */
  normalize(input: Record<string, unknown>): Content;
  /** Every problem with the content, by path (e.g. `steps.0.template.html_body`). Empty when valid. */
  validate(content: Content): FieldError[];
  /** The Knock response shape of the resource. */
  present(content: Content, meta: ResourceMeta): Record<string, unknown>;
}
