import { Type } from 'typebox';

/** `T` or null: Knock's optional request fields accept null as "not set". */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
