// `waddle check`: the configuration (already validated by loadConfig) and the TLS certificate.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import { checkCertificate } from '../tls/certs.ts';
import { leanTls, leanTlsLoadError } from '../tls/lean/index.ts';

export async function runCheck(config: Config): Promise<number> {
  console.log(`config: ok (domain ${config.domain}, ${config.workers} workers, data in ${config.dataDir})`);
  if (!checkTlsEngine(config)) return 1;
  const keyPath = config.tls.key ?? join(config.dataDir, 'tls', `${config.domain}.key`);
  const certPath = config.tls.cert ?? join(config.dataDir, 'tls', `${config.domain}.crt`);
  try {
    await access(certPath);
  } catch {
    if (config.tls.cert) {
      console.error(`certificate: ${certPath} does not exist`);
      return 1;
    }
    console.log(`certificate: none yet; a self-signed one will be generated in ${certPath} at first start`);
    return 0;
  }
  const result = checkCertificate({ key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') }, config.domain);
  const expiry = result.notAfter ? `, valid until ${result.notAfter.toISOString()}` : '';
  if (result.ok) {
    console.log(`certificate: ok (${result.subject}; names ${result.domains.join(', ')}${expiry})`);
    return 0;
  }
  for (const problem of result.problems) console.error(`certificate: ${problem}`);
  return 1;
}

/** `[tls] engine`: 'lean' needs the addon `npm ci` builds; 'auto' without it works, with more memory per connection. */
function checkTlsEngine(config: Config): boolean {
  const wanted = config.tls.engine;
  if (wanted === 'node') {
    console.log('tls engine: node:tls (configured)');
    return true;
  }
  if (leanTls() !== null) {
    console.log('tls engine: lean (src/tls/lean addon loaded)');
    return true;
  }
  const why = `${leanTlsLoadError()}; run npm ci or npm run build:native`;
  if (wanted === 'lean') {
    console.error(`tls engine: [tls] engine = "lean", but ${why}`);
    return false;
  }
  console.log(`tls engine: node:tls, because ${why}`);
  return true;
}
