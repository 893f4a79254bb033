// TLS certificates for the listeners (RFC 6120 §5, RFC 7590): load the configured pair, or create a
// self-signed one per domain on first start so a fresh install speaks TLS at once, and check a pair
// for `waddle check` in words an operator understands.
import { KeyObject, X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CertificatePaths {
  key: string;
  cert: string;
}

export interface LoadedCertificate {
  /** PEM */
  key: string;
  /** PEM (may hold a chain, leaf first) */
  cert: string;
  /** true when this call created a self-signed pair: the caller should log it. */
  generated: boolean;
  paths: CertificatePaths;
}

export interface CertificateCheck {
  ok: boolean;
  /** Each problem as one plain sentence; empty when ok. */
  problems: string[];
  subject: string;
  notAfter: Date | null;
  /** DNS names the certificate is valid for (subjectAltName, else the subject CN). */
  domains: string[];
}

export interface SelfSignedOptions {
  notBefore?: Date;
  notAfter?: Date;
}

/** Stable codes for operator-facing certificate errors. */
export class CertificateError extends Error {
  readonly code: 'ERR_TLS_CONFIG' | 'ERR_TLS_PARTIAL' | 'ERR_TLS_DOMAIN';
  constructor(code: CertificateError['code'], message: string) {
    super(message);
    this.name = 'CertificateError';
    this.code = code;
  }
}

const DAY_MS = 86_400_000;
/** Backdate new certificates a little so peers whose clocks run slow accept them at once. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The key and certificate for `domain`: the configured paths when given (both or neither), else
 * `<dataDir>/tls/<domain>.key|.crt`, generated self-signed on first use. Call it from one process
 * (the primary) at boot: two processes generating at once would race on the files.
 */
export async function ensureCertificate(opts: {
  dataDir: string;
  domain: string;
  key?: string;
  cert?: string;
}): Promise<LoadedCertificate> {
  if (opts.key !== undefined || opts.cert !== undefined) {
    if (opts.key === undefined || opts.cert === undefined) {
      throw new CertificateError('ERR_TLS_CONFIG', 'configure both the TLS key and the TLS certificate, or neither');
    }
    const paths = { key: opts.key, cert: opts.cert };
    return { ...(await readPair(paths)), generated: false, paths };
  }
  const domain = fileSafeDomain(opts.domain);
  const dir = join(opts.dataDir, 'tls');
  const paths = { key: join(dir, `${domain}.key`), cert: join(dir, `${domain}.crt`) };
  const [hasKey, hasCert] = await Promise.all([isFile(paths.key), isFile(paths.cert)]);
  if (hasKey && hasCert) return { ...(await readPair(paths)), generated: false, paths };
  if (hasKey || hasCert) {
    // Never overwrite half of a pair: it may be an operator's key waiting for its certificate.
    const [found, missing] = hasKey ? [paths.key, paths.cert] : [paths.cert, paths.key];
    throw new CertificateError('ERR_TLS_PARTIAL', `found ${found} but not ${missing}: add the missing file or remove the other one`);
  }
  const pem = await generateSelfSignedCertificate(domain);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // 'wx': fail rather than clobber a file that appeared meanwhile; the key is readable by us only.
  await writeFile(paths.key, pem.key, { mode: 0o600, flag: 'wx' });
  await writeFile(paths.cert, pem.cert, { mode: 0o644, flag: 'wx' });
  return { ...pem, generated: true, paths };
}

/**
 * A self-signed certificate for `domain` with an EC P-256 key (a handshake costs far less CPU than
 * with RSA-2048). SAN DNS:<domain>, plus IP 127.0.0.1 and ::1 for localhost (RFC 6125 §6.4: clients
 * match subjectAltName, not the CN). Valid for one year unless dates are given.
 */
export async function generateSelfSignedCertificate(
  domain: string,
  options: SelfSignedOptions = {},
): Promise<{ key: string; cert: string }> {
  const x509 = await loadX509();
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS);
  const altNames: { type: 'dns' | 'ip'; value: string }[] = [{ type: 'dns', value: domain }];
  if (domain === 'localhost') altNames.push({ type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' });
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [domain] }],
      notBefore,
      notAfter,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // clientAuth too: server-to-server links present the same certificate as clients (RFC 6120 §13.7).
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(altNames),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  const key = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { key, cert: cert.toString('pem') };
}

/**
 * Problems with a key and certificate for serving `domain` at `now`, in plain words. Uses only
 * node:crypto (X509Certificate), so `waddle check` needs no extra library.
 */
export function checkCertificate(pem: { key: string; cert: string }, domain: string, now: Date = new Date()): CertificateCheck {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem.cert);
  } catch (err) {
    return {
      ok: false,
      problems: [`The certificate could not be read as PEM or DER: ${messageOf(err)}.`],
      subject: '',
      notAfter: null,
      domains: [],
    };
  }
  const problems: string[] = [];
  try {
    if (!cert.checkPrivateKey(createPrivateKey(pem.key))) problems.push('The private key does not belong to this certificate.');
  } catch (err) {
    problems.push(`The private key could not be read or does not fit this certificate: ${messageOf(err)}.`);
  }
  const notBefore = cert.validFromDate;
  const notAfter = cert.validToDate;
  if (now < notBefore) problems.push(`The certificate is not valid yet: it starts on ${notBefore.toISOString()}.`);
  if (now > notAfter) problems.push(`The certificate expired on ${notAfter.toISOString()}.`);
  const domains = dnsNames(cert);
  if (cert.checkHost(domain) === undefined) {
    const covered = domains.length > 0 ? domains.join(', ') : 'no domain names';
    problems.push(`The certificate is not valid for ${domain}; it covers ${covered}.`);
  }
  return { ok: problems.length === 0, problems, subject: cert.subject, notAfter, domains };
}

type X509Module = typeof import('@peculiar/x509');

/**
 * @peculiar/x509 (2.x) builds certificates on WebCrypto; Node has no X.509 creation API. Its DI
 * container (tsyringe) needs a Reflect metadata polyfill loaded first. Both load lazily: only a
 * first start without certificates pays for them.
 */
async function loadX509(): Promise<X509Module> {
  await import('reflect-metadata');
  return import('@peculiar/x509');
}

async function readPair(paths: CertificatePaths): Promise<{ key: string; cert: string }> {
  const [key, cert] = await Promise.all([readFile(paths.key, 'utf8'), readFile(paths.cert, 'utf8')]);
  return { key, cert };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The domain names a file; refuse anything that could leave the tls/ folder. */
function fileSafeDomain(domain: string): string {
  const lower = domain.toLowerCase();
  if (lower === '' || lower.startsWith('.') || /[/\\\0]/.test(lower)) {
    throw new CertificateError('ERR_TLS_DOMAIN', `cannot name certificate files after the domain ${JSON.stringify(domain)}`);
  }
  return lower;
}

/** DNS entries of subjectAltName ("DNS:a, IP Address:1.2.3.4"; Node quotes unusual names as JSON). */
function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san === undefined) {
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
    return cn === undefined ? [] : [cn];
  }
  const names: string[] = [];
  for (const entry of san.split(', ')) {
    if (!entry.startsWith('DNS:')) continue;
    const value = entry.slice(4);
    names.push(value.startsWith('"') ? String(JSON.parse(value)) : value);
  }
  return names;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
