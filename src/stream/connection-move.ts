// Moving a bound client connection from the shard that accepted it (its edge) to its session's home.
//
// Why: the kernel hands a new socket to any shard (SO_REUSEPORT), but the session lives on the shard its
// JID hashes to. Left where it was accepted, every stanza of that connection crosses a ring twice (in to
// the home, out to the edge), each hop a serialise and a parse; with 2 shards half the connections pay
// it, and direct TLS cost 44% more CPU per message than on one shard (bench/RESULTS.md, "Session 5").
// Moved, a connection's stanzas cross a ring only when its peer lives on another shard.
//
// The protocol, over the rings (FrameKind.MoveOffer / MoveAnswer / MoveIn):
//   1. edge: once bound and with its parser between two stanzas, stops reading the socket and offers.
//   2. home: holds every later write for that connection (and a close), answers "accepted"; the ring's
//      order means every earlier write reaches the edge before the answer.
//   3. edge: flushes its output to the kernel, duplicates the descriptor (the addon: Node has no dup),
//      detaches the lean TLS state (an OpenSSL SSL object has no thread affinity), takes whatever the
//      socket had read but not delivered, sends it all in MoveIn and destroys its own handle.
//   4. home: opens a socket on the descriptor, continues TLS and the stream, writes the held output,
//      then reads on. If the connection dies first, the edge sends SessionEnd instead of MoveIn.
// node:tls connections keep their state in a TLSWrap bound to its thread and never move.
import { Socket } from 'node:net';
import { adoptLeanTls, closeDuplicatedFd, discardDetachedTls } from '../tls/lean/index.ts';
import type { ClientSocket } from './client-socket.ts';

/** The stream state a moved connection continues with. */
export interface MovedStream {
  transport: 'tcp' | 'tls';
  encrypted: boolean;
  username: string;
  full: string;
  streamId: string;
  /** The stream's root tag as the client sent it (the parser continues inside it). */
  root: { name: string; attrs: Record<string, string> };
  lastActivity: number;
}

/** The MoveIn payload (JSON). */
export interface MovedConnection extends MovedStream {
  /** A descriptor of the connected socket, duplicated for the receiving shard. */
  fd: number;
  /** The lean TLS state handle (a pointer as a decimal string), or null for plain TCP. */
  tls: string | null;
  /** Bytes read from the socket but not yet delivered (base64; ciphertext under TLS). */
  pending: string;
}

/**
 * Stops reading now. `pause()` alone lets Node read up to a high-water mark more into the stream's
 * buffer; stopping the handle as net.Socket itself does under backpressure keeps the rest in the kernel.
 */
export function stopReading(raw: Socket): void {
  raw.pause();
  const handle = (raw as unknown as { _handle?: { reading?: boolean; readStop?: () => number } })._handle;
  if (handle?.readStop) {
    handle.reading = false;
    handle.readStop();
  }
}

/** What a paused socket has buffered but not delivered, or null. */
export function readBuffered(raw: Socket): Buffer | null {
  if (raw.readableLength === 0) return null;
  const data = raw.read() as Buffer | string | null;
  return data === null ? null : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** Opens the moved connection's socket on this thread; throws (having released both) if it cannot. */
export function openMovedSocket(moved: MovedConnection): ClientSocket {
  let raw: Socket;
  try {
    raw = new Socket({ fd: moved.fd, readable: true, writable: true });
  } catch (err) {
    closeDuplicatedFd(moved.fd);
    if (moved.tls !== null) discardDetachedTls(BigInt(moved.tls));
    throw err;
  }
  return moved.tls === null ? raw : adoptLeanTls(raw, BigInt(moved.tls));
}

/** Releases a moved connection nobody will take (its session ended meanwhile): the client sees a close. */
export function dropMovedConnection(moved: MovedConnection): void {
  if (moved.tls !== null) discardDetachedTls(BigInt(moved.tls));
  closeDuplicatedFd(moved.fd);
}
