export interface SiteCookie {
  name: string;
  options: { path: string; httpOnly: true; sameSite: 'lax'; secure: boolean };
}

/** `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and for the whole site. */
export function siteCookie(publicUrl: string, baseName: string): SiteCookie {
  const secure = publicUrl.startsWith('https://');
  return { name: secure ? `__Host-${baseName}` : baseName, options: { path: '/', httpOnly: true, sameSite: 'lax', secure } };
}

export const csrfCookie = (publicUrl: string) => siteCookie(publicUrl, 'relais_csrf');
