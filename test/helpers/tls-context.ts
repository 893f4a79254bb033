import { createSecureContext, type SecureContext } from 'node:tls';

/** An empty secure context for in-process shards that never open a socket. */
export function tls(): SecureContext {
  return createSecureContext();
}
