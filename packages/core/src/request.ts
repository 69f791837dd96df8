/**
 * The parts of an incoming HTTP request that an `authorize` hook needs, in
 * one shape for every transport: sse-server builds it from a node:http
 * request or a Fetch `Request`, ws-server from the WebSocket upgrade. So an
 * app writes one hook (check a bearer token, a session cookie) and passes it
 * to all of them. Only Web-standard types here: core also runs in browsers.
 */
export interface BoardcastRequest<Raw = unknown> {
  /** `GET`, `POST` … (`GET` for a WebSocket upgrade). */
  readonly method: string;
  /**
   * Path and query. For Node requests the origin part is a placeholder
   * (`http://localhost`); read the `host` header for the real one.
   */
  readonly url: URL;
  /** Header value by case-insensitive name; repeated headers are joined with `, `. */
  header(name: string): string | undefined;
  /** The transport's own request object, for anything the fields above do not cover. */
  readonly raw: Raw;
  /**
   * The client's IP address: the peer's, or, when the peer is a proxy the
   * endpoint's `trustProxy` names, the right-most untrusted address of
   * `X-Forwarded-For` (or `Forwarded`). Used for per-address limits and
   * logs. Undefined when the transport cannot tell (a Fetch `Request`
   * without `remoteAddress`).
   */
  readonly clientAddress?: string | undefined;
  /**
   * The `host[:port]` the client addressed: `Host`, or a trusted proxy's
   * `X-Forwarded-Host`. What the Host and same-host Origin checks compare.
   */
  readonly host?: string | undefined;
  /** The scheme the client used: TLS at this server, or a trusted proxy's `X-Forwarded-Proto`. */
  readonly protocol?: 'http' | 'https' | undefined;
}

/**
 * Decides whether a request may connect or run a command, the same way in
 * every transport. May be async. Its return value becomes `context.auth` for
 * command handlers (and the client's `auth`); `false` refuses with 401
 * `unauthorized`; a thrown `BoardcastError` refuses with its own code and
 * status (`forbidden` → 403); anything else thrown is a server fault: 500
 * `handler_failed`, with no detail sent to the client.
 *
 * Leave `Raw` as `unknown` for a hook shared by several transports.
 */
export type Authorize<Raw = unknown> = (request: BoardcastRequest<Raw>) => unknown;
