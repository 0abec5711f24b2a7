// The answer of a billing step that may be refused: the value, or a machine-readable reason and
// a sentence for staff (same convention as the access rule and door commands).
export type Refusal<R extends string> = { ok: false; reason: R; detail: string };
export type Outcome<T, R extends string> = ({ ok: true } & T) | Refusal<R>;

export const refuse = <R extends string>(reason: R, detail: string): Refusal<R> => ({ ok: false, reason, detail });
