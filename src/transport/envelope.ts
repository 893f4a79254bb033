// The frame format on the rings (STYLE §4.4): a 12-byte header, then UTF-8 text. XML stays the
// payload format because it is debuggable and because routed stanzas are parsed once per hop anyway.
//
//   0      1      2      4             8             12
//   +------+------+------+-------------+-------------+---------------------------+
//   | kind | flag | src  | a (u32)     | b (u32)     | payload (UTF-8 XML/JSON)  |
//   +------+------+------+-------------+-------------+---------------------------+
import type { ShardId } from './channel.ts';

export const FrameKind = {
  /** A stanza for a JID the receiving shard owns: deliver it inbound. */
  Route: 1,
  /** Write these bytes to local connection `a` (the receiver is the connection's edge shard). */
  ToConnection: 2,
  /** A stanza a client sent on connection `a` of the sending edge shard, for the session's home shard. */
  SessionIn: 3,
  /** Request `a` (JSON `{ method, params }`). */
  RpcRequest: 4,
  /** Response to request `a` (JSON `{ ok, value | error }`). */
  RpcResponse: 5,
  /** Close local connection `a` with the stream error condition in the payload ('' = clean close). */
  CloseConnection: 6,
  /** The edge's connection `a` has gone (b = 1 if the stream was closed cleanly): the home shard unbinds or keeps its session. */
  SessionEnd: 7,
  /** A stanza for several local users (XEP-0045 fan-out): payload = recipients joined by '\n', a blank line, the XML. */
  Fanout: 8,
  /** The edge's bound connection `a` is ready to move to its session's home shard (the receiver). */
  MoveOffer: 9,
  /** The home's answer to MoveOffer for connection `a`: b = 1 accepted (the home now holds writes for it), 0 refused. */
  MoveAnswer: 10,
  /** Connection `a` itself (JSON: descriptor, TLS state handle, stream state); the sender forgot it. */
  MoveIn: 11,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Envelope {
  kind: FrameKind;
  src: ShardId;
  a: number;
  b: number;
  payload: string;
}

const HEADER = 12;

export function encodeEnvelope(kind: FrameKind, src: ShardId, a: number, b: number, payload: string): Uint8Array {
  const len = Buffer.byteLength(payload);
  const buf = Buffer.allocUnsafe(HEADER + len);
  buf[0] = kind;
  buf[1] = 0;
  buf.writeUInt16LE(src, 2);
  buf.writeUInt32LE(a >>> 0, 4);
  buf.writeUInt32LE(b >>> 0, 8);
  buf.write(payload, HEADER, 'utf8');
  return buf;
}

export function decodeEnvelope(frame: Uint8Array): Envelope {
  // Buffer over the same memory (no copy); the frame view is valid only during the drain callback,
  // and toString copies the payload out.
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  return {
    kind: buf[0] as FrameKind,
    src: buf.readUInt16LE(2),
    a: buf.readUInt32LE(4),
    b: buf.readUInt32LE(8),
    payload: buf.toString('utf8', HEADER),
  };
}
