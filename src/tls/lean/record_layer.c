// TLS 1.3 record protection after the handshake, so an established connection needs no OpenSSL `SSL`.
//
// Why: an idle TLS 1.3 connection in OpenSSL 3.5 keeps ~18-24 KB of state it never gives back (two record
// layers with arrays for 32 pipelined records, the SSL object, cipher contexts and, after an
// X25519MLKEM768 exchange, the client's expanded ML-KEM key; bench/RESULTS.md, "Memory per idle
// connection"). None of it is needed to protect records once the handshake is over: that takes two keys,
// two IVs and two sequence numbers (RFC 8446 §5.3). OpenSSL offers no API to export that state (BoringSSL
// has SSL_get_traffic_secrets, kernel TLS would do the same job but this kernel has no `tls` ULP), so the
// lean engine learns the application traffic secrets from OpenSSL's key log callback, counts the records
// OpenSSL protected with them from its message callback (lean_tls.c), frees the SSL and continues here
// with OpenSSL's own AEAD ciphers and HMAC. What is kept per connection is ~200 bytes.
//
// Scope, deliberately small: TLS 1.3 only (TLS 1.2 connections keep OpenSSL), the three suites OpenSSL
// enables by default, application data and alerts both ways, KeyUpdate both ways (answered when the
// peer requests it, and sent by us before a key has protected 2^24 records), a client's RFC 6066
// max_fragment_length kept (OpenSSL 3.5 has no RFC 8449 record_size_limit to keep), nothing else: any other
// post-handshake message is an unexpected_message (we never ask for post-handshake authentication and
// clients do not send tickets).
//
// Cipher contexts are per thread and re-keyed when the next record belongs to another connection: a
// context costs ~1 KB, re-keying ~0.1 µs.
#include "record_layer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC_HEADER 5
#define TAG_BYTES 16
#define IV_BYTES 12
#define MAX_PLAINTEXT 16384                          // 2^14 (RFC 8446 §5.1)
#define MAX_CIPHERTEXT (MAX_PLAINTEXT + 256)         // RFC 8446 §5.2
#define MAX_SECRET 48                                // SHA-384
#define KEY_UPDATE_AFTER ((uint64_t)1 << 24)        // AES-GCM: below 2^24.5 records per key (RFC 8446 §5.5)
// KeyUpdates in a row without application data before we give up: each costs two key derivations and an
// answer, ~10x an ordinary record for a peer's 27 bytes (OpenSSL allows the same 32).
#define MAX_KEY_UPDATES_IN_ROW 32

enum { CT_ALERT = 21, CT_HANDSHAKE = 22, CT_APPLICATION_DATA = 23 };
enum { HS_KEY_UPDATE = 24 };
enum {
  AL_CLOSE_NOTIFY = 0,
  AL_UNEXPECTED_MESSAGE = 10,
  AL_BAD_RECORD_MAC = 20,
  AL_RECORD_OVERFLOW = 22,
  AL_ILLEGAL_PARAMETER = 47,
  AL_DECODE_ERROR = 50,
  AL_INTERNAL_ERROR = 80,
  AL_USER_CANCELED = 90,
};

typedef struct {
  uint64_t seq;     // records protected with this key so far
  uint64_t key_id;  // unique per derived key: tells a thread's cipher context whether it holds this key
  uint8_t secret[MAX_SECRET];
  uint8_t key[32];
  uint8_t iv[IV_BYTES];
} Direction;

struct RecordLayer {
  const EVP_CIPHER *cipher;  // NULL until rl_activate
  const EVP_MD *md;
  uint8_t secret_len, key_len, have_secrets, alpn_len;
  uint8_t peer_closed, failed, sent_close, key_updates_in_row;
  uint16_t max_plain;  // record plaintext limit: 2^14, or the client's max_fragment_length (RFC 6066 §4)
  Direction rx, tx;
  uint8_t exporter[RL_EXPORTER_BYTES];
  uint8_t alpn[32];
  uint8_t *partial;  // a record whose end has not arrived yet (allocated only while one is pending)
  size_t partial_len;
};

// ---- Algorithms, fetched once per process (explicit fetches: an implicit one per record would cost a lookup). ----

static EVP_CIPHER *aes128gcm, *aes256gcm, *chacha20poly1305;
static EVP_MD *sha256, *sha384;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void) {
  aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  chacha20poly1305 = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

static uint64_t next_key_id(void) {
  static uint64_t counter;
  return __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

// ---- Per-thread cipher contexts ----

typedef struct {
  EVP_CIPHER_CTX *ctx;
  uint64_t key_id;  // the key the context holds, 0 for none
} KeyedContext;

static __thread KeyedContext seal_ctx, open_ctx;

static EVP_CIPHER_CTX *keyed(KeyedContext *k, const RecordLayer *rl, const Direction *d, const uint8_t nonce[IV_BYTES],
                             int enc) {
  if (k->ctx == NULL && (k->ctx = EVP_CIPHER_CTX_new()) == NULL) return NULL;
  if (k->key_id == d->key_id) {
    if (EVP_CipherInit_ex2(k->ctx, NULL, NULL, nonce, enc, NULL) != 1) return NULL;
  } else {
    k->key_id = 0;
    if (EVP_CipherInit_ex2(k->ctx, rl->cipher, d->key, nonce, enc, NULL) != 1) return NULL;
    k->key_id = d->key_id;
  }
  return k->ctx;
}

void rl_thread_cleanup(void) {
  EVP_CIPHER_CTX_free(seal_ctx.ctx);
  EVP_CIPHER_CTX_free(open_ctx.ctx);
  seal_ctx = (KeyedContext){0};
  open_ctx = (KeyedContext){0};
}

int scratch_reserve(Scratch *s, size_t need) {
  if (s->cap >= need) return 1;
  size_t cap = s->cap ? s->cap : 16384;
  while (cap < need) cap *= 2;
  unsigned char *p = realloc(s->data, cap);
  if (p == NULL) return 0;
  s->data = p;
  s->cap = cap;
  return 1;
}

// ---- Key schedule (RFC 8446 §7.1, §7.2, §7.3) ----

// HKDF-Expand-Label(secret, label, "", out_len) for out_len <= the hash length: one HMAC block.
static int expand_label(const RecordLayer *rl, const uint8_t *secret, const char *label, uint8_t *out, size_t out_len) {
  uint8_t info[2 + 1 + 6 + 16 + 1 + 1];
  size_t label_len = strlen(label), n = 0;
  info[n++] = (uint8_t)(out_len >> 8);
  info[n++] = (uint8_t)out_len;
  info[n++] = (uint8_t)(6 + label_len);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, label_len);
  n += label_len;
  info[n++] = 0;  // empty context
  info[n++] = 1;  // HKDF-Expand's block counter T(1)
  uint8_t block[EVP_MAX_MD_SIZE];
  unsigned int block_len = 0;
  if (HMAC(rl->md, secret, rl->secret_len, info, n, block, &block_len) == NULL || block_len < out_len) return 0;
  memcpy(out, block, out_len);
  OPENSSL_cleanse(block, sizeof block);
  return 1;
}

static int direction_keys(const RecordLayer *rl, Direction *d) {
  if (!expand_label(rl, d->secret, "key", d->key, rl->key_len) || !expand_label(rl, d->secret, "iv", d->iv, IV_BYTES))
    return 0;
  d->key_id = next_key_id();
  return 1;
}

// application_traffic_secret_N+1 (RFC 8446 §7.2), new keys, sequence number back to 0.
static int direction_update(const RecordLayer *rl, Direction *d) {
  uint8_t next[MAX_SECRET];
  if (!expand_label(rl, d->secret, "traffic upd", next, rl->secret_len)) return 0;
  memcpy(d->secret, next, rl->secret_len);
  OPENSSL_cleanse(next, sizeof next);
  d->seq = 0;
  return direction_keys(rl, d);
}

static void nonce_for(const Direction *d, uint8_t nonce[IV_BYTES]) {
  memcpy(nonce, d->iv, IV_BYTES);
  for (int i = 0; i < 8; i++) nonce[IV_BYTES - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

// ---- Lifecycle ----

RecordLayer *rl_new(void) {
  pthread_once(&fetch_once, fetch_algorithms);
  return calloc(1, sizeof(RecordLayer));
}

void rl_free(RecordLayer *rl) {
  if (rl == NULL) return;
  free(rl->partial);
  OPENSSL_cleanse(rl, sizeof *rl);
  free(rl);
}

int rl_set_secret(RecordLayer *rl, int server, const uint8_t *secret, size_t len) {
  if (len > MAX_SECRET) return 0;
  memcpy(server ? rl->tx.secret : rl->rx.secret, secret, len);
  rl->secret_len = (uint8_t)len;
  rl->have_secrets |= server ? 2 : 1;
  return 1;
}

int rl_has_secrets(const RecordLayer *rl) { return rl->have_secrets == 3; }

int rl_activate(RecordLayer *rl, uint16_t suite, uint64_t read_seq, uint64_t write_seq, size_t max_plain,
                const uint8_t exporter[RL_EXPORTER_BYTES], const uint8_t *alpn, size_t alpn_len) {
  const EVP_CIPHER *cipher = NULL;
  const EVP_MD *md = NULL;
  uint8_t key_len = 0;
  switch (suite) {
    case 0x1301:  // TLS_AES_128_GCM_SHA256
      cipher = aes128gcm, md = sha256, key_len = 16;
      break;
    case 0x1302:  // TLS_AES_256_GCM_SHA384
      cipher = aes256gcm, md = sha384, key_len = 32;
      break;
    case 0x1303:  // TLS_CHACHA20_POLY1305_SHA256
      cipher = chacha20poly1305, md = sha256, key_len = 32;
      break;
    default:
      return 0;
  }
  if (cipher == NULL || md == NULL || !rl_has_secrets(rl) || (size_t)EVP_MD_get_size(md) != rl->secret_len ||
      alpn_len > sizeof rl->alpn || max_plain < 512 || max_plain > MAX_PLAINTEXT)
    return 0;
  rl->max_plain = (uint16_t)max_plain;
  rl->cipher = cipher;
  rl->md = md;
  rl->key_len = key_len;
  if (!direction_keys(rl, &rl->rx) || !direction_keys(rl, &rl->tx)) {
    rl->cipher = NULL;
    return 0;
  }
  rl->rx.seq = read_seq;
  rl->tx.seq = write_seq;
  memcpy(rl->exporter, exporter, RL_EXPORTER_BYTES);
  memcpy(rl->alpn, alpn, alpn_len);
  rl->alpn_len = (uint8_t)alpn_len;
  return 1;
}

const uint8_t *rl_exporter(const RecordLayer *rl) { return rl->exporter; }

const uint8_t *rl_alpn(const RecordLayer *rl, size_t *len) {
  *len = rl->alpn_len;
  return rl->alpn;
}

// ---- Records out ----

// Appends one TLSCiphertext carrying `data` of content type `type` (RFC 8446 §5.2: no padding).
static int seal_record(RecordLayer *rl, uint8_t type, const uint8_t *data, size_t len, Scratch *out) {
  size_t body = len + 1 + TAG_BYTES;
  if (!scratch_reserve(out, out->len + REC_HEADER + body)) return 0;
  uint8_t *h = out->data + out->len, *p = h + REC_HEADER;
  h[0] = CT_APPLICATION_DATA;
  h[1] = 3;
  h[2] = 3;
  h[3] = (uint8_t)(body >> 8);
  h[4] = (uint8_t)body;
  uint8_t nonce[IV_BYTES];
  nonce_for(&rl->tx, nonce);
  EVP_CIPHER_CTX *ctx = keyed(&seal_ctx, rl, &rl->tx, nonce, 1);
  int n = 0, total = 0;
  if (ctx == NULL || EVP_CipherUpdate(ctx, NULL, &n, h, REC_HEADER) != 1) return 0;
  if (len > 0) {
    if (EVP_CipherUpdate(ctx, p, &n, data, (int)len) != 1) return 0;
    total += n;
  }
  if (EVP_CipherUpdate(ctx, p + total, &n, &type, 1) != 1) return 0;
  total += n;
  if (EVP_CipherFinal_ex(ctx, p + total, &n) != 1) return 0;
  total += n;
  if ((size_t)total != len + 1 || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, p + total) != 1) return 0;
  rl->tx.seq++;
  out->len += REC_HEADER + body;
  return 1;
}

// KeyUpdate with request_update = `request`, then our next key (RFC 8446 §4.6.3).
static int send_key_update(RecordLayer *rl, uint8_t request, Scratch *out) {
  const uint8_t msg[5] = {HS_KEY_UPDATE, 0, 0, 1, request};
  return seal_record(rl, CT_HANDSHAKE, msg, sizeof msg, out) && direction_update(rl, &rl->tx);
}

static void send_alert(RecordLayer *rl, uint8_t description, Scratch *out) {
  const uint8_t alert[2] = {description == AL_CLOSE_NOTIFY || description == AL_USER_CANCELED ? 1 : 2, description};
  seal_record(rl, CT_ALERT, alert, sizeof alert, out);
}

int rl_seal(RecordLayer *rl, const uint8_t *data, size_t len, Scratch *out, char *err, size_t err_len) {
  if (rl->failed || rl->sent_close) {
    snprintf(err, err_len, "the TLS session is closed");
    return 0;
  }
  size_t done = 0;
  do {
    if (rl->tx.seq >= KEY_UPDATE_AFTER && !send_key_update(rl, 0, out)) break;
    size_t n = len - done < rl->max_plain ? len - done : rl->max_plain;
    if (!seal_record(rl, CT_APPLICATION_DATA, data + done, n, out)) break;
    done += n;
  } while (done < len);
  if (done == len) return 1;
  snprintf(err, err_len, "TLS record protection failed");
  rl->failed = 1;
  return 0;
}

void rl_close_notify(RecordLayer *rl, Scratch *out) {
  if (rl->sent_close || rl->failed) return;
  send_alert(rl, AL_CLOSE_NOTIFY, out);
  rl->sent_close = 1;
}

// ---- Records in ----

// A fatal error: our alert goes out, nothing more is read or written.
static int fail(RecordLayer *rl, uint8_t description, const char *why, Scratch *out, char *err, size_t err_len) {
  snprintf(err, err_len, "%s", why);
  if (description != 0 && !rl->sent_close) send_alert(rl, description, out);
  rl->failed = 1;
  return ST_ERROR;
}

// A post-handshake message: only KeyUpdate is expected from a client, alone at the end of its record
// (RFC 8446 §5.1: handshake messages must not span key changes). Fragmented handshake messages are
// allowed by the RFC but never needed for a 5-byte KeyUpdate; they are refused.
static int on_handshake(RecordLayer *rl, const uint8_t *p, size_t len, Scratch *out, char *err, size_t err_len) {
  size_t body = len < 4 ? 0 : (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
  if (len < 4 || 4 + body > len)
    return fail(rl, AL_UNEXPECTED_MESSAGE, "a handshake message split across records", out, err, err_len);
  if (p[0] != HS_KEY_UPDATE) return fail(rl, AL_UNEXPECTED_MESSAGE, "unexpected post-handshake message", out, err, err_len);
  if (body != 1) return fail(rl, AL_DECODE_ERROR, "malformed KeyUpdate", out, err, err_len);
  if (p[4] > 1) return fail(rl, AL_ILLEGAL_PARAMETER, "bad KeyUpdate request_update", out, err, err_len);
  if (len != 5) return fail(rl, AL_UNEXPECTED_MESSAGE, "data after KeyUpdate in its record", out, err, err_len);
  if (++rl->key_updates_in_row > MAX_KEY_UPDATES_IN_ROW)
    return fail(rl, AL_UNEXPECTED_MESSAGE, "too many KeyUpdates", out, err, err_len);
  if (!direction_update(rl, &rl->rx)) return fail(rl, AL_INTERNAL_ERROR, "key update failed", out, err, err_len);
  if (p[4] == 1 && !rl->sent_close && !send_key_update(rl, 0, out))
    return fail(rl, AL_INTERNAL_ERROR, "key update failed", out, err, err_len);
  return 0;
}

// One whole record (header included): application data is appended to `plain`.
static int open_record(RecordLayer *rl, const uint8_t *rec, size_t n, Scratch *plain, Scratch *out, char *err,
                       size_t err_len) {
  // After the handshake every TLS 1.3 record is application_data on the outside (a ChangeCipherSpec is
  // allowed only while the handshake runs, RFC 8446 §5).
  if (rec[0] != CT_APPLICATION_DATA) return fail(rl, AL_UNEXPECTED_MESSAGE, "unexpected record type", out, err, err_len);
  size_t body = n - REC_HEADER;
  if (body < 1 + TAG_BYTES) return fail(rl, AL_BAD_RECORD_MAC, "record too short", out, err, err_len);
  size_t sealed = body - TAG_BYTES;
  if (!scratch_reserve(plain, plain->len + sealed)) return fail(rl, AL_INTERNAL_ERROR, "out of memory", out, err, err_len);
  uint8_t *p = plain->data + plain->len, nonce[IV_BYTES];
  nonce_for(&rl->rx, nonce);
  EVP_CIPHER_CTX *ctx = keyed(&open_ctx, rl, &rl->rx, nonce, 0);
  int m = 0, total = 0;
  int ok = ctx != NULL && EVP_CipherUpdate(ctx, NULL, &m, rec, REC_HEADER) == 1 &&
           EVP_CipherUpdate(ctx, p, &m, rec + REC_HEADER, (int)sealed) == 1 && (total = m, 1) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, (void *)(rec + REC_HEADER + sealed)) == 1 &&
           EVP_CipherFinal_ex(ctx, p + total, &m) == 1 && (size_t)(total + m) == sealed;
  if (!ok) return fail(rl, AL_BAD_RECORD_MAC, "bad record MAC", out, err, err_len);
  rl->rx.seq++;
  // TLSInnerPlaintext: content, content type, zero padding (RFC 8446 §5.4).
  size_t len = sealed;
  while (len > 0 && p[len - 1] == 0) len--;
  if (len == 0) return fail(rl, AL_UNEXPECTED_MESSAGE, "record without a content type", out, err, err_len);
  uint8_t type = p[--len];
  if (len > rl->max_plain) return fail(rl, AL_RECORD_OVERFLOW, "record too large", out, err, err_len);
  switch (type) {
    case CT_APPLICATION_DATA:
      plain->len += len;
      if (len > 0) rl->key_updates_in_row = 0;  // empty records do not earn more KeyUpdates
      return 0;
    case CT_HANDSHAKE:
      if (len == 0) return fail(rl, AL_UNEXPECTED_MESSAGE, "empty handshake record", out, err, err_len);
      return on_handshake(rl, p, len, out, err, err_len);
    case CT_ALERT:
      if (len != 2) return fail(rl, AL_DECODE_ERROR, "malformed alert", out, err, err_len);
      if (p[1] == AL_CLOSE_NOTIFY) {
        rl->peer_closed = 1;
        return ST_CLOSED;
      }
      if (p[1] == AL_USER_CANCELED) return 0;  // a close_notify should follow (RFC 8446 §6.1)
      snprintf(err, err_len, "the peer sent alert %u", p[1]);
      rl->failed = 1;
      return ST_ERROR;
    default:
      return fail(rl, AL_UNEXPECTED_MESSAGE, "unexpected content type", out, err, err_len);
  }
}

// The whole size of the record starting at `h` (`have` bytes of it known), or 0 while the header is incomplete.
static size_t record_size(const uint8_t *h, size_t have) {
  return have < REC_HEADER ? 0 : REC_HEADER + ((size_t)h[3] << 8 | h[4]);
}

int rl_feed(RecordLayer *rl, const uint8_t *in, size_t len, Scratch *plain, Scratch *out, char *err, size_t err_len) {
  int status = 0;
  if (rl->failed || rl->peer_closed) return 0;
  // First finish a record that began in an earlier read.
  if (rl->partial != NULL) {
    size_t size = record_size(rl->partial, rl->partial_len);
    if (size == 0) {
      size_t take = REC_HEADER - rl->partial_len < len ? REC_HEADER - rl->partial_len : len;
      memcpy(rl->partial + rl->partial_len, in, take);
      rl->partial_len += take, in += take, len -= take;
      size = record_size(rl->partial, rl->partial_len);
      if (size == 0) return 0;
      if (size > REC_HEADER + MAX_CIPHERTEXT) return fail(rl, AL_RECORD_OVERFLOW, "record too large", out, err, err_len);
      uint8_t *whole = realloc(rl->partial, size);  // the header alone was kept so far
      if (whole == NULL) return fail(rl, AL_INTERNAL_ERROR, "out of memory", out, err, err_len);
      rl->partial = whole;
    }
    size_t take = size - rl->partial_len < len ? size - rl->partial_len : len;
    memcpy(rl->partial + rl->partial_len, in, take);
    rl->partial_len += take, in += take, len -= take;
    if (rl->partial_len < size) return 0;
    status = open_record(rl, rl->partial, size, plain, out, err, err_len);
    free(rl->partial);  // an idle connection keeps no buffer
    rl->partial = NULL;
    rl->partial_len = 0;
  }
  while (status == 0 && len > 0) {
    size_t size = record_size(in, len);
    if (size > REC_HEADER + MAX_CIPHERTEXT) return fail(rl, AL_RECORD_OVERFLOW, "record too large", out, err, err_len);
    if (size == 0 || size > len) {
      // Exactly this record's size (or room for its header): a client that stops mid-record holds
      // what it sent so far, not a maximum-size buffer.
      rl->partial = malloc(size == 0 ? REC_HEADER : size);
      if (rl->partial == NULL) return fail(rl, AL_INTERNAL_ERROR, "out of memory", out, err, err_len);
      memcpy(rl->partial, in, len);
      rl->partial_len = len;
      break;
    }
    status = open_record(rl, in, size, plain, out, err, err_len);
    in += size, len -= size;
  }
  return status;
}
