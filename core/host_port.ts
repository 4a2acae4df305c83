/**
 * Host and port in URLs and messages (RFC 3986 §3.2.2): an IPv6 literal goes in brackets, so
 * `fd00::2` port 80 reads `[fd00::2]:80`. One place for what every URL-building site needs.
 */

/** `host`, bracketed when it is an IPv6 literal. */
export function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** `host:port`, with an IPv6 literal bracketed. */
export function hostPort(host: string, port: number): string {
  return `${urlHost(host)}:${port}`;
}
