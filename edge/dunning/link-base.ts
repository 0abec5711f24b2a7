// Where the links in member notices (/pay/{token}, /card/{token}) point: the organisation's own
// origin (its dunning settings' payLinkBase), else the Worker's public address (the var
// PUBLIC_BASE_URL). With neither, a notice goes out without a link and the gap is logged: members
// are never sent to an address that only works on the gym owner's machine.

/** The origin (and path prefix, if any) links start with, without a trailing slash; null when none is configured. */
export function memberLinkBase(payLinkBase: string | null | undefined, publicBaseUrl: string | null | undefined, context: Record<string, unknown>): string | null {
  for (const [source, value] of [
    ['payLinkBase', payLinkBase],
    ['PUBLIC_BASE_URL', publicBaseUrl],
  ] as const) {
    const base = value?.trim();
    if (!base) continue;
    if (isHttpUrl(base)) return base.replace(/\/+$/, '');
    console.error(JSON.stringify({ msg: 'member link base is not an http(s) URL; ignored', source, value: base, ...context }));
  }
  console.error(JSON.stringify({ msg: 'no address for member links: set PUBLIC_BASE_URL (or the organisation\'s payLinkBase); notice sent without a link', ...context }));
  return null;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
