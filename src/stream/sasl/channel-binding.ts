// TLS channel bindings for SASL (RFC 5056) on the server side of a connection: RFC 9266 tls-exporter and
// RFC 5929 §4 tls-server-end-point, the two types we advertise with XEP-0440 and use for SCRAM-*-PLUS
// (RFC 5802 §6) and the HT-*-EXPR/-ENDP FAST mechanisms (XEP-0484). tls-unique (RFC 5929 §3) is not offered:
// it is undefined for TLS 1.3 (RFC 9266 §1) and unsafe on TLS 1.2 without extended master secret.
import { createHash, X509Certificate } from 'node:crypto';
import type { TlsChannel } from '../client-socket.ts';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point';

/** Every type we implement, strongest first: XEP-0440 §4 says tls-exporter should be preferred. */
export const CHANNEL_BINDING_TYPES: readonly ChannelBindingType[] = ['tls-exporter', 'tls-server-end-point'];

/** Narrows a cb-name from the wire (RFC 5802 §7 gs2-cbind-flag "p=" cb-name) to a type we implement. */
export function isChannelBindingType(name: string): name is ChannelBindingType {
  return name === 'tls-exporter' || name === 'tls-server-end-point';
}

/** RFC 9266 §2: label "EXPORTER-Channel-Binding", 32 bytes. */
const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_BYTES = 32;

/**
 * The binding data for a server-side TLS socket, or null if this type is unavailable on it:
 *
 * - tls-exporter only on TLS 1.3. RFC 9266 §4.2 allows TLS 1.2 only when every handshake yields a unique
 *   master secret, i.e. with extended master secret (RFC 7627) and no renegotiation; Node does not tell us
 *   whether EMS was negotiated, so we do not offer it there. RFC 9266 §2 specifies an empty context; on
 *   TLS 1.3 "no context" and "empty context" are the same value (RFC 8446 §7.5, checked with Node 24), and on
 *   TLS 1.2 they would differ, one more reason to stay on 1.3.
 * - tls-server-end-point whenever our certificate's signature names exactly one hash (RFC 5929 §4.1).
 */
/**
 * The tls-server-end-point data of the certificate the server presents (first in the PEM chain), or null
 * when undefined for it. Computed once per shard: `socket.getX509Certificate()` parses the certificate
 * again on every call, which was ~8% of a SCRAM login's CPU (bench/RESULTS.md, session 3).
 */
export function serverEndPointOf(certPem: string): Buffer | null {
  return serverEndPointData(new X509Certificate(certPem));
}

/**
 * `endPoint`: the precomputed serverEndPointOf() of the certificate this socket presents, when known;
 * without it the socket's own certificate is parsed.
 */
export function channelBindingData(socket: TlsChannel, type: ChannelBindingType, endPoint?: Buffer | null): Buffer | null {
  if (type === 'tls-exporter') {
    if (socket.getProtocol() !== 'TLSv1.3') return null;
    try {
      return socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
    } catch {
      return null; // the socket closed or its handshake is not finished
    }
  }
  if (endPoint !== undefined) return endPoint;
  const cert = socket.getX509Certificate?.();
  return cert === undefined ? null : serverEndPointData(cert);
}

/** Types to advertise in <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'> (XEP-0440 §2) for this socket. */
export function availableChannelBindings(socket: TlsChannel, endPoint?: Buffer | null): ChannelBindingType[] {
  const out: ChannelBindingType[] = [];
  if (socket.getProtocol() === 'TLSv1.3') out.push('tls-exporter');
  if (endPoint !== undefined) {
    if (endPoint !== null) out.push('tls-server-end-point');
    return out;
  }
  const cert = socket.getX509Certificate?.();
  if (cert !== undefined && serverEndPointHash(cert) !== null) out.push('tls-server-end-point');
  return out;
}

/** RFC 5929 §4.1: the hash of the DER certificate the server presented, or null when undefined for it. */
export function serverEndPointData(cert: X509Certificate): Buffer | null {
  const hash = serverEndPointHash(cert);
  return hash === null ? null : createHash(hash).update(cert.raw).digest();
}

/**
 * RFC 5929 §4.1: the hash function of the certificate's signatureAlgorithm, with MD5 and SHA-1 replaced by
 * SHA-256. Keyed by OID, not by OpenSSL's display name. Algorithms that use no single hash (Ed25519, Ed448)
 * or carry it in parameters (RSASSA-PSS) leave the binding "undefined at this time" (RFC 5929 §4.1), so null.
 */
export function serverEndPointHash(cert: X509Certificate): 'sha224' | 'sha256' | 'sha384' | 'sha512' | null {
  return SIGNATURE_HASH[cert.signatureAlgorithmOid] ?? null;
}

const SIGNATURE_HASH: Readonly<Record<string, 'sha224' | 'sha256' | 'sha384' | 'sha512'>> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption (MD5 -> SHA-256)
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption (SHA-1 -> SHA-256)
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1 (SHA-1 -> SHA-256)
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1 (SHA-1 -> SHA-256)
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};
