import { Type } from 'typebox';
import { PageInfo, PageQuery } from '../../http/pagination.ts';
import { InlineChannelDataRequest } from '../channel-data/schema.ts';
import { PreferenceSet, PreferenceSetRequest } from '../preferences/schema.ts';

const NullableString = Type.Union([Type.String({ maxLength: 2048 }), Type.Null()]);

export const TenantId = Type.String({ minLength: 1, maxLength: 256 });

const Branding = Type.Object(
  {
    icon_url: Type.Optional(NullableString),
    logo_url: Type.Optional(NullableString),
    primary_color: Type.Optional(NullableString),
    primary_color_contrast: Type.Optional(NullableString),
    dark_icon_url: Type.Optional(NullableString),
    dark_logo_url: Type.Optional(NullableString),
    dark_primary_color: Type.Optional(NullableString),
    dark_primary_color_contrast: Type.Optional(NullableString),
  },
  { additionalProperties: false },
);

export const SetTenantRequest = Type.Object(
  {
    name: Type.Optional(NullableString),
    channel_data: Type.Optional(Type.Union([InlineChannelDataRequest, Type.Null()])),
    settings: Type.Optional(
      Type.Object(
        {
          branding: Type.Optional(Type.Union([Branding, Type.Null()])),
          preference_set: Type.Optional(Type.Union([PreferenceSetRequest, Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: true, title: 'SetTenantRequest' },
);

export const Tenant = Type.Object(
  {
    __typename: Type.Literal('Tenant'),
    id: Type.String(),
    name: NullableString,
    settings: Type.Object({
      branding: Type.Union([Branding, Type.Null()]),
      preference_set: Type.Union([PreferenceSet, Type.Null()]),
    }),
  },
  { additionalProperties: true, title: 'Tenant' },
);

export const TenantParams = Type.Object({ id: TenantId });

export const ListTenantsQuery = Type.Object({
  ...PageQuery,
  tenant_id: Type.Optional(Type.String({ maxLength: 256 })),
  name: Type.Optional(Type.String({ maxLength: 2048 })),
});

export const ListTenantsResponse = Type.Object({ entries: Type.Array(Tenant), page_info: PageInfo }, { title: 'ListTenantsResponse' });
