import type { ResourceKind, ResourceType } from '../versioning/resource-kind.ts';
import { emailLayoutKind } from './email-layout.ts';
import { partialKind } from './partial.ts';
import { translationKind } from './translation.ts';
import { workflowKind } from './workflow.ts';

/** Every versioned resource type and how its content is validated and shaped. */
export const RESOURCE_KINDS: Record<ResourceType, ResourceKind> = {
  workflow: workflowKind,
  email_layout: emailLayoutKind,
  partial: partialKind,
  translation: translationKind,
};

const byCollection = new Map(Object.values(RESOURCE_KINDS).map((kind) => [kind.collection, kind]));

/** The kind served under a route segment such as `workflows` or `email_layouts`, if any. */
export function kindOfCollection(collection: string): ResourceKind | undefined {
  return byCollection.get(collection);
}
