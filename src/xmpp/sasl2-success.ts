// XEP-0388 §2.6.1: <success/> carries the authorization identifier (a full JID once bound or resumed),
// the mechanism's additional data and whatever inline features produced (Bind2's <bound/>, XEP-0198's
// <resumed/>, XEP-0484's <token/>), and is followed by the stream features of the authenticated
// stream (no restart). Built as text because parts come from different shards already serialised.
import { NS } from './ns.ts';
import { type Element, escapeXml } from './xml.ts';

export interface Sasl2SuccessParts {
  /** Base64 of the mechanism's final data, if any. */
  additionalData: string | null;
  /** Serialised elements added by the edge (e.g. a FAST <token/>, an XEP-0198 <failed/>). */
  extras: string[];
}

export function sasl2Success(parts: Sasl2SuccessParts, authzid: string, children: readonly Element[] = []): string {
  const data = parts.additionalData === null ? '' : `<additional-data>${parts.additionalData}</additional-data>`;
  return `<success xmlns='${NS.SASL2}'>${data}<authorization-identifier>${escapeXml(authzid)}</authorization-identifier>${children.map(String).join('')}${parts.extras.join('')}</success>`;
}

/**
 * The features offered after a SASL2 success: binding only if not yet bound, and none of the
 * features an inline request already enabled (`omit`, by namespace).
 */
export function postAuthFeatures(moduleFeatures: readonly Element[], bound: boolean, omit: ReadonlySet<string>): string {
  const parts: string[] = [];
  if (!bound) parts.push(`<bind xmlns='${NS.BIND}'><required/></bind>`, `<session xmlns='${NS.SESSION}'><optional/></session>`);
  for (const f of moduleFeatures) if (!omit.has(String(f.attrs.xmlns))) parts.push(f.toString());
  return `<stream:features>${parts.join('')}</stream:features>`;
}
