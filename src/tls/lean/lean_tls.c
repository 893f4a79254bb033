// Server-side TLS for client connections with OpenSSL's record buffers released while idle.
//
// Why this exists instead of node:tls: a Node 24 TLS connection costs ~48 KB that it never gives back
// (bench/RESULTS.md, "Idle memory per connection"). Most of it is Node's own input buffer: TLSWrap hands
// libuv a 64 KB slice of its NodeBIO for every read and the BIO keeps that block for the connection's life;
// Node also never sets SSL_MODE_RELEASE_BUFFERS, so OpenSSL keeps ~17 KB read and write record buffers.
// Neither is reachable from JavaScript and no npm package offers a leaner binding, so this file drives the
// same OpenSSL that Node links (its exported symbols, no second copy) with a BIO of our own:
//   - input is read straight from the Buffer a plain net.Socket delivered (no per-connection input buffer),
//   - output is collected in one per-thread scratch buffer and copied into a JS Buffer once per call,
//   - SSL_MODE_RELEASE_BUFFERS frees the record buffers whenever a connection has nothing in flight,
//   - once a TLS 1.3 handshake is over, the SSL is freed and record_layer.c protects the records with the
//     traffic keys (the "hand-off"; OpenSSL's idle state is ~18-24 KB per connection, ours ~0.2 KB).
// The hand-off needs two numbers OpenSSL does not export: the traffic secrets (its key log callback
// reports them) and how many records it protected with them (its message callback sees every record
// header; the count restarts at each side's Finished, the last message under the handshake keys).
// It waits until OpenSSL holds no partial record, and never happens for TLS 1.2 or after a KeyUpdate.
//
// Threads: every call runs on the JS thread of the worker that owns the connection; scratch buffers and
// the status word are per thread (each worker has its own N-API env and instance data).
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record_layer.h"

// A connection is served by OpenSSL (`ssl` set), by record_layer.c after the hand-off (`ssl` NULL,
// `rl` set), or closed (both NULL).
typedef struct {
  SSL *ssl;
  RecordLayer *rl;          // before the hand-off: collects the traffic secrets
  const unsigned char *in;  // input being fed, valid only during feed()
  size_t in_len;
  uint32_t headers_read, records_read, records_written;  // since each side's Finished (count_records)
  uint8_t secure, key_updated;
} Conn;

typedef struct {
  napi_ref status_ref;
  int32_t *status;
} Instance;

static __thread Scratch out_scratch;    // ciphertext produced by the current call
static __thread Scratch plain_scratch;  // plaintext read, or a string's UTF-8 being written
static __thread char last_error[256];

// Scratch buffers above this are shrunk after use, so one large stanza does not pin memory per thread.
#define SCRATCH_KEEP (256 * 1024)

static void scratch_trim(Scratch *s) {
  s->len = 0;
  if (s->cap > SCRATCH_KEEP) {
    free(s->data);
    s->data = NULL;
    s->cap = 0;
  }
}

// ---- The BIO: reads from Conn.in, writes to the thread's output scratch. ----

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_read(BIO *b, char *data, size_t len, size_t *readbytes) {
  Conn *c = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (c == NULL || c->in_len == 0) {
    BIO_set_retry_read(b);
    *readbytes = 0;
    return 0;
  }
  size_t n = len < c->in_len ? len : c->in_len;
  memcpy(data, c->in, n);
  c->in += n;
  c->in_len -= n;
  *readbytes = n;
  return 1;
}

static int bio_write(BIO *b, const char *data, size_t len, size_t *written) {
  BIO_clear_retry_flags(b);
  if (!scratch_reserve(&out_scratch, out_scratch.len + len)) return 0;
  memcpy(out_scratch.data + out_scratch.len, data, len);
  out_scratch.len += len;
  *written = len;
  return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void make_bio_method(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "waddle lean tls");
  if (m == NULL) return;
  BIO_meth_set_read_ex(m, bio_read);
  BIO_meth_set_write_ex(m, bio_write);
  BIO_meth_set_ctrl(m, bio_ctrl);
  BIO_meth_set_create(m, bio_create);
  bio_method = m;
}

// ---- Helpers ----

static void capture_error(const char *fallback) {
  unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, last_error, sizeof last_error);
  else {
    strncpy(last_error, fallback, sizeof last_error - 1);
    last_error[sizeof last_error - 1] = 0;
  }
  ERR_clear_error();
}

static napi_value throw_last(napi_env env, const char *fallback) {
  capture_error(fallback);
  napi_throw_error(env, "ERR_LEAN_TLS", last_error);
  return NULL;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value buffer_from_scratch(napi_env env, Scratch *s) {
  napi_value buf;
  void *unused;
  if (napi_create_buffer_copy(env, s->len, s->data, &unused, &buf) != napi_ok) buf = NULL;
  scratch_trim(s);
  return buf;
}

static char *get_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s != NULL) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static void *get_external(napi_env env, napi_value v) {
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return p;
}

// The session of a call whose only argument is one.
static Conn *session_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc == 1 ? get_external(env, argv[0]) : NULL;
}

// ---- What the hand-off learns from OpenSSL's callbacks ----

static Conn *conn_of(const SSL *ssl) {
  BIO *b = SSL_get_rbio(ssl);
  return b == NULL ? NULL : BIO_get_data(b);
}

static int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

// A key log line (NSS format, "<label> <client random> <secret>", hex): keeps the application traffic
// secrets, ignores the rest.
static void keylog(const SSL *ssl, const char *line) {
  static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ", server[] = "SERVER_TRAFFIC_SECRET_0 ";
  int ours = strncmp(line, server, sizeof server - 1) == 0;
  if (!ours && strncmp(line, client, sizeof client - 1) != 0) return;
  Conn *c = conn_of(ssl);
  const char *hex = strrchr(line, ' ');
  if (c == NULL || hex == NULL) return;
  hex++;
  size_t n = strlen(hex) / 2;
  uint8_t secret[64];
  if (n == 0 || n > sizeof secret || strlen(hex) != 2 * n) return;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return;
    secret[i] = (uint8_t)(hi << 4 | lo);
  }
  if (c->rl == NULL) c->rl = rl_new();
  if (c->rl != NULL) rl_set_secret(c->rl, ours, secret, n);
  OPENSSL_cleanse(secret, sizeof secret);
}

// Counts the records protected with the application keys: every record header read or written, restarted
// at the Finished of its direction (OpenSSL reports a record's header before the message it carries).
// A record whose header was read but that is not decrypted yet (a partial record) shows as
// headers_read > records_read.
static void count_records(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg) {
  (void)version;
  (void)arg;
  Conn *c = conn_of(ssl);
  if (c == NULL) return;
  if (content_type == SSL3_RT_HEADER) {
    if (write_p) c->records_written++;
    else c->headers_read++;
  } else if (content_type == SSL3_RT_INNER_CONTENT_TYPE && !write_p) {
    c->records_read++;
  } else if (content_type == SSL3_RT_HANDSHAKE && len > 0) {
    uint8_t type = *(const uint8_t *)buf;
    if (type == SSL3_MT_FINISHED && write_p) c->records_written = 0;
    if (type == SSL3_MT_FINISHED && !write_p) c->records_read = c->headers_read = 0;
    if (type == SSL3_MT_KEY_UPDATE) c->key_updated = 1;
  }
}

// ---- Contexts ----

static int select_xmpp_client(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                              unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  // XEP-0368: the only protocol on this port is 'xmpp-client'. A client that offers ALPN without it is
  // refused with no_application_protocol (RFC 7301 §3.2), as node:tls does.
  static const char want[] = "xmpp-client";
  for (unsigned int i = 0; i < inlen;) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == sizeof want - 1 && memcmp(in + i + 1, want, n) == 0) {
      *out = in + i + 1;
      *outlen = (unsigned char)n;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void free_ctx(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  SSL_CTX_free(data);
}

// createContext(keyPem, certChainPem, ciphers12, groups | null, alpnXmppClient, handOff) -> External<SSL_CTX>
static napi_value create_context(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "createContext(key, cert, ciphers, groups, alpn, handOff)");
    return NULL;
  }
  ERR_clear_error();
  char *key = get_string(env, argv[0]), *cert = get_string(env, argv[1]), *ciphers = get_string(env, argv[2]);
  napi_valuetype groups_type;
  napi_typeof(env, argv[3], &groups_type);
  char *groups = groups_type == napi_string ? get_string(env, argv[3]) : NULL;
  bool alpn = false, hand_off = false;
  napi_get_value_bool(env, argv[4], &alpn);
  napi_get_value_bool(env, argv[5], &hand_off);
  SSL_CTX *ctx = NULL;
  const char *failed = NULL;
  BIO *kb = NULL, *cb = NULL;
  EVP_PKEY *pkey = NULL;
  X509 *leaf = NULL;
  if (key == NULL || cert == NULL || ciphers == NULL) {
    failed = "bad arguments";
    goto done;
  }
  ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    failed = "SSL_CTX_new failed";
    goto done;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // No server-side session cache: TLS 1.3 resumes with stateless tickets, and a cache would hold
  // memory per past connection (node:tls keeps none either unless the application listens for it).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
    failed = "bad cipher list";
    goto done;
  }
  if (groups != NULL && SSL_CTX_set1_groups_list(ctx, groups) != 1) {
    failed = "bad groups list";
    goto done;
  }
  kb = BIO_new_mem_buf(key, -1);
  pkey = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
  if (pkey == NULL || SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
    failed = "cannot use the private key";
    goto done;
  }
  cb = BIO_new_mem_buf(cert, -1);
  leaf = cb ? PEM_read_bio_X509_AUX(cb, NULL, NULL, NULL) : NULL;
  if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    failed = "cannot use the certificate";
    goto done;
  }
  for (;;) {  // the rest of the PEM is the chain
    X509 *ca = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    if (ca == NULL) break;
    if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
      X509_free(ca);
      failed = "cannot add a chain certificate";
      goto done;
    }
  }
  ERR_clear_error();  // the loop above ends on "no start line"
  if (SSL_CTX_check_private_key(ctx) != 1) {
    failed = "the key does not match the certificate";
    goto done;
  }
  if (alpn) SSL_CTX_set_alpn_select_cb(ctx, select_xmpp_client, NULL);
  if (hand_off) {
    SSL_CTX_set_keylog_callback(ctx, keylog);
    SSL_CTX_set_msg_callback(ctx, count_records);
  }
done:;
  napi_value result = NULL;
  if (failed != NULL) {
    SSL_CTX_free(ctx);
    throw_last(env, failed);
  } else if (napi_create_external(env, ctx, free_ctx, NULL, &result) != napi_ok) {
    SSL_CTX_free(ctx);
    result = NULL;
  }
  EVP_PKEY_free(pkey);
  X509_free(leaf);
  BIO_free(kb);
  BIO_free(cb);
  free(key);
  free(cert);
  free(ciphers);
  free(groups);
  return result;
}

// ---- Connections ----

static void conn_release(Conn *c) {
  if (c->ssl != NULL) {
    SSL_free(c->ssl);  // frees the BIO too
    c->ssl = NULL;
  }
  rl_free(c->rl);
  c->rl = NULL;
}

static int handed_off(const Conn *c) { return c->ssl == NULL && c->rl != NULL; }

static int is_open(const Conn *c) { return c->ssl != NULL || c->rl != NULL; }

static void free_conn(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  conn_release(data);
  free(data);
}

// newSession(ctx) -> External<Conn>
static napi_value new_session(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  SSL_CTX *ctx = argc == 1 ? get_external(env, argv[0]) : NULL;
  pthread_once(&bio_once, make_bio_method);
  if (ctx == NULL || bio_method == NULL) {
    napi_throw_type_error(env, NULL, "newSession(context)");
    return NULL;
  }
  ERR_clear_error();
  Conn *c = calloc(1, sizeof *c);
  BIO *bio = BIO_new(bio_method);
  SSL *ssl = SSL_new(ctx);
  if (c == NULL || bio == NULL || ssl == NULL) {
    free(c);
    BIO_free(bio);
    SSL_free(ssl);
    return throw_last(env, "cannot create a TLS session");
  }
  BIO_set_data(bio, c);
  SSL_set_bio(ssl, bio, bio);
  SSL_set_accept_state(ssl);
  c->ssl = ssl;
  napi_value result;
  if (napi_create_external(env, c, free_conn, NULL, &result) != napi_ok) {
    free_conn(env, c, NULL);
    return NULL;
  }
  return result;
}

static Instance *instance(napi_env env) {
  Instance *inst = NULL;
  napi_get_instance_data(env, (void **)&inst);
  return inst;
}

// Classifies a failed SSL call; returns the status bits it adds.
static int failure_bits(Conn *c, int ret) {
  switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      return ST_CLOSED;
    default:
      capture_error("TLS protocol error");
      return ST_ERROR;
  }
}

// The connection cannot be handed off, ever: forget the secrets, stop counting records.
static int no_hand_off(Conn *c) {
  rl_free(c->rl);
  c->rl = NULL;
  SSL_set_msg_callback(c->ssl, NULL);
  return 0;
}

// Frees OpenSSL's state once the connection can go on without it (see the top of this file); until then
// (a partial record inside OpenSSL) it is tried again after the next input. Returns 1 if it happened.
static int try_hand_off(Conn *c) {
  SSL *ssl = c->ssl;
  if (c->rl == NULL) return 0;
  if (SSL_version(ssl) != TLS1_3_VERSION || c->key_updated || !rl_has_secrets(c->rl)) return no_hand_off(c);
  if (SSL_in_init(ssl) || SSL_get_shutdown(ssl) != 0 || SSL_has_pending(ssl) || c->headers_read != c->records_read)
    return 0;
  const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
  const unsigned char *alpn = NULL;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  // RFC 6066 max_fragment_length, if the client asked for one: our records must stay within it.
  uint8_t mfl = SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl));
  size_t max_plain = mfl >= TLSEXT_max_fragment_length_512 && mfl <= TLSEXT_max_fragment_length_4096
                         ? (size_t)512 << (mfl - TLSEXT_max_fragment_length_512)
                         : 16384;
  uint8_t exporter[RL_EXPORTER_BYTES];
  int ok = cipher != NULL &&
           SSL_export_keying_material(ssl, exporter, sizeof exporter, RL_EXPORTER_LABEL, strlen(RL_EXPORTER_LABEL), NULL,
                                      0, 0) == 1 &&
           rl_activate(c->rl, SSL_CIPHER_get_protocol_id(cipher), c->records_read, c->records_written, max_plain,
                       exporter, alpn, alpn_len);
  OPENSSL_cleanse(exporter, sizeof exporter);
  ERR_clear_error();
  if (!ok) return no_hand_off(c);
  SSL_free(ssl);  // and our BIO
  c->ssl = NULL;
  return 1;
}

// Input for a connection OpenSSL still serves: the handshake, then records until the hand-off.
static int feed_openssl(Conn *c, const unsigned char *data, size_t len) {
  int status = 0;
  ERR_clear_error();
  c->in = data;
  c->in_len = len;
  if (!c->secure) {
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
      c->secure = 1;
      status |= ST_SECURE;
    } else {
      status |= failure_bits(c, r);
    }
  }
  while (c->secure && !(status & (ST_ERROR | ST_CLOSED))) {
    if (!scratch_reserve(&plain_scratch, plain_scratch.len + 16384 + 256)) {
      strcpy(last_error, "out of memory");
      status |= ST_ERROR;
      break;
    }
    size_t n = 0;
    int r = SSL_read_ex(c->ssl, plain_scratch.data + plain_scratch.len, plain_scratch.cap - plain_scratch.len, &n);
    if (r == 1) {
      plain_scratch.len += n;
      continue;
    }
    status |= failure_bits(c, r);
    break;
  }
  c->in = NULL;
  c->in_len = 0;
  ERR_clear_error();
  if (c->secure && !(status & (ST_ERROR | ST_CLOSED)) && try_hand_off(c)) status |= ST_HANDED_OFF;
  return status;
}

// feed(conn, ciphertext) -> plaintext Buffer | undefined; status bits in the status word.
static napi_value feed(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Instance *inst = instance(env);
  Conn *c = argc == 2 ? get_external(env, argv[0]) : NULL;
  void *data = NULL;
  size_t len = 0;
  if (c == NULL || inst == NULL || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "feed(session, buffer)");
    return NULL;
  }
  inst->status[0] = 0;
  out_scratch.len = 0;
  plain_scratch.len = 0;
  int status = 0;
  if (c->ssl != NULL) status = feed_openssl(c, data, len);
  else if (c->rl != NULL) {
    status = rl_feed(c->rl, data, len, &plain_scratch, &out_scratch, last_error, sizeof last_error);
    ERR_clear_error();  // a failed tag check may leave entries; node:crypto on this thread must not see them
  }
  if (out_scratch.len > 0) status |= ST_OUTPUT;
  inst->status[0] = status;
  if (plain_scratch.len == 0) return undefined(env);
  return buffer_from_scratch(env, &plain_scratch);
}

// takeOutput() -> Buffer: the ciphertext the last feed() produced (handshake, tickets, alerts).
static napi_value take_output(napi_env env, napi_callback_info info) {
  (void)info;
  return buffer_from_scratch(env, &out_scratch);
}

// encrypt(conn, string | Buffer) -> Buffer of TLS records.
static napi_value encrypt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Conn *c = argc == 2 ? get_external(env, argv[0]) : NULL;
  if (c == NULL || !is_open(c) || !c->secure) {
    napi_throw_error(env, "ERR_LEAN_TLS", "the TLS session is not established");
    return NULL;
  }
  const unsigned char *data;
  size_t len;
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (is_buffer) {
    napi_get_buffer_info(env, argv[1], (void **)&data, &len);
  } else {
    // One conversion into room for the worst case (3 UTF-8 bytes per UTF-16 unit; the length in units is
    // O(1)): asking for the UTF-8 length first walked the string an extra time.
    size_t units = 0;
    if (napi_get_value_string_utf16(env, argv[1], NULL, 0, &units) != napi_ok) {
      napi_throw_type_error(env, NULL, "encrypt(session, string | Buffer)");
      return NULL;
    }
    if (!scratch_reserve(&plain_scratch, units * 3 + 1)) return throw_last(env, "out of memory");
    napi_get_value_string_utf8(env, argv[1], (char *)plain_scratch.data, units * 3 + 1, &len);
    data = plain_scratch.data;
  }
  ERR_clear_error();
  out_scratch.len = 0;
  size_t written = 0;
  int ok = len == 0 ||
           (handed_off(c) ? rl_seal(c->rl, data, len, &out_scratch, last_error, sizeof last_error)
                          : SSL_write_ex(c->ssl, data, len, &written) == 1);
  if (!is_buffer) scratch_trim(&plain_scratch);
  if (!ok && handed_off(c)) {
    ERR_clear_error();
    napi_throw_error(env, "ERR_LEAN_TLS", last_error);
    return NULL;
  }
  if (!ok) return throw_last(env, "TLS write failed");
  return buffer_from_scratch(env, &out_scratch);
}

// shutdown(conn) -> Buffer | undefined: our close_notify.
static napi_value shutdown_tls(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  if (c == NULL || !is_open(c) || !c->secure) return undefined(env);
  ERR_clear_error();
  out_scratch.len = 0;
  if (handed_off(c)) rl_close_notify(c->rl, &out_scratch);
  else SSL_shutdown(c->ssl);
  ERR_clear_error();
  if (out_scratch.len == 0) return undefined(env);
  return buffer_from_scratch(env, &out_scratch);
}

// free(conn): releases OpenSSL's state now instead of at garbage collection.
static napi_value free_session(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  if (c != NULL) conn_release(c);
  return undefined(env);
}

// ---- Moving a connection to another worker thread (src/shard: a bound connection moves to its home shard) ----
// An SSL object has no thread affinity: it may be used by another thread once handed over with a
// happens-before edge (the ring's Atomics provide it). The thread-local scratch buffers are looked up at
// call time, so nothing of the old thread stays attached. The SSL holds its own reference to its SSL_CTX.

static int64_t bigint_arg(napi_env env, napi_value v, int *ok) {
  int64_t value = 0;
  bool lossless = false;
  *ok = napi_get_value_bigint_int64(env, v, &value, &lossless) == napi_ok && lossless;
  return value;
}

// detach(conn) -> bigint: takes the TLS state out of `conn` (which becomes closed) for adopt() elsewhere.
static napi_value detach_session(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  if (c == NULL || !is_open(c)) {
    napi_throw_error(env, NULL, "detach: the TLS session is closed");
    return NULL;
  }
  Conn *moved = malloc(sizeof *moved);
  if (moved == NULL) return throw_last(env, "out of memory");
  *moved = *c;
  moved->in = NULL;
  moved->in_len = 0;
  if (c->ssl != NULL) BIO_set_data(SSL_get_rbio(c->ssl), moved);
  c->ssl = NULL;
  c->rl = NULL;
  napi_value result;
  napi_create_bigint_int64(env, (int64_t)(intptr_t)moved, &result);
  return result;
}

// The Conn* a detach() gave out, passed back as a bigint; NULL if the argument is not one.
static Conn *moved_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int ok = 0;
  Conn *c = argc == 1 ? (Conn *)(intptr_t)bigint_arg(env, argv[0], &ok) : NULL;
  return ok ? c : NULL;
}

// adopt(bigint) -> External<Conn>: the TLS state detach() gave out, now owned by this thread's JS.
static napi_value adopt_session(napi_env env, napi_callback_info info) {
  Conn *c = moved_arg(env, info);
  if (c == NULL) {
    napi_throw_type_error(env, NULL, "adopt(handle)");
    return NULL;
  }
  napi_value result;
  if (napi_create_external(env, c, free_conn, NULL, &result) != napi_ok) return NULL;
  return result;
}

// discard(bigint): frees TLS state that was detached but cannot be adopted (its connection is gone).
static napi_value discard_session(napi_env env, napi_callback_info info) {
  Conn *c = moved_arg(env, info);
  if (c != NULL) free_conn(env, c, NULL);
  return undefined(env);
}

static int int_arg(napi_env env, napi_callback_info info, int32_t *out) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc == 1 && napi_get_value_int32(env, argv[0], out) == napi_ok;
}

// dupFd(fd) -> fd: a second descriptor for the same socket (close-on-exec), so the thread that accepted
// it can close its own handle (libuv closes its fd) while another thread goes on with the connection.
// Node offers no dup(); this is the only reason plain TCP connections need the addon to move.
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  if (!int_arg(env, info, &fd) || fd < 0) {
    napi_throw_type_error(env, NULL, "dupFd(fd)");
    return NULL;
  }
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  napi_value result;
  napi_create_int32(env, copy, &result);
  return result;
}

// closeFd(fd): for a duplicated descriptor that no socket took over.
static napi_value close_fd(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  if (int_arg(env, info, &fd) && fd >= 0) close(fd);
  return undefined(env);
}

// exportKeyingMaterial(conn, length, label, context | undefined) -> Buffer (RFC 5705 / RFC 8446 §7.5)
static napi_value export_keying_material(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Conn *c = argc >= 3 ? get_external(env, argv[0]) : NULL;
  uint32_t length = 0;
  if (c == NULL || !is_open(c) || !c->secure || napi_get_value_uint32(env, argv[1], &length) != napi_ok || length == 0 ||
      length > 1024) {
    napi_throw_error(env, "ERR_LEAN_TLS", "exportKeyingMaterial: no established session or bad length");
    return NULL;
  }
  char *label = get_string(env, argv[2]);
  void *context = NULL;
  size_t context_len = 0;
  bool has_context = false;
  if (argc == 4) napi_is_buffer(env, argv[3], &has_context);
  if (has_context) napi_get_buffer_info(env, argv[3], &context, &context_len);
  napi_value buf = NULL;
  void *out = NULL;
  ERR_clear_error();
  if (handed_off(c)) {
    // Only the value computed before OpenSSL's state went: RFC 9266 tls-exporter (empty context).
    if (label != NULL && strcmp(label, RL_EXPORTER_LABEL) == 0 && length == RL_EXPORTER_BYTES && context_len == 0 &&
        napi_create_buffer(env, length, &out, &buf) == napi_ok) {
      memcpy(out, rl_exporter(c->rl), length);
    } else {
      napi_throw_error(env, "ERR_LEAN_TLS", "exportKeyingMaterial: only tls-exporter is kept after the handshake");
      buf = NULL;
    }
  } else if (label != NULL && napi_create_buffer(env, length, &out, &buf) == napi_ok &&
             SSL_export_keying_material(c->ssl, out, length, label, strlen(label), context, context_len, has_context) != 1) {
    buf = throw_last(env, "SSL_export_keying_material failed");
  }
  free(label);
  return buf;
}

static napi_value string_or_null(napi_env env, const char *s, size_t len) {
  napi_value v;
  if (s == NULL) napi_get_null(env, &v);
  else napi_create_string_utf8(env, s, len, &v);
  return v;
}

// protocol(conn) -> 'TLSv1.3' | 'TLSv1.2' | null
static napi_value protocol(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  if (c == NULL || !is_open(c) || !c->secure) return string_or_null(env, NULL, 0);
  if (handed_off(c)) return string_or_null(env, "TLSv1.3", NAPI_AUTO_LENGTH);
  return string_or_null(env, SSL_get_version(c->ssl), NAPI_AUTO_LENGTH);
}

// alpn(conn) -> the negotiated ALPN protocol | null
static napi_value alpn(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  const unsigned char *p = NULL;
  unsigned int n = 0;
  if (c != NULL && c->ssl != NULL) SSL_get0_alpn_selected(c->ssl, &p, &n);
  if (c != NULL && handed_off(c)) {
    size_t len = 0;
    p = rl_alpn(c->rl, &len);
    n = (unsigned int)len;
  }
  return string_or_null(env, n == 0 ? NULL : (const char *)p, n);
}

// recordLayer(conn) -> 'openssl' | 'waddle' (handed off) | null (closed)
static napi_value record_layer(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  if (c == NULL || !is_open(c)) return string_or_null(env, NULL, 0);
  return string_or_null(env, handed_off(c) ? "waddle" : "openssl", NAPI_AUTO_LENGTH);
}

// lastError() -> string: why the last call failed.
static napi_value last_error_fn(napi_env env, napi_callback_info info) {
  (void)info;
  return string_or_null(env, last_error, NAPI_AUTO_LENGTH);
}

// status() -> Int32Array(1): the status word feed() writes, shared so reading it costs no call.
static napi_value status_fn(napi_env env, napi_callback_info info) {
  (void)info;
  Instance *inst = instance(env);
  napi_value v = NULL;
  if (inst != NULL) napi_get_reference_value(env, inst->status_ref, &v);
  return v;
}

// Runs on the worker's own thread when its env goes away (a shard stopped or restarted): the scratch
// buffers are that thread's, so they are freed here rather than leaked with the thread.
static void free_thread_scratch(void *arg) {
  (void)arg;
  free(out_scratch.data);
  free(plain_scratch.data);
  out_scratch = (Scratch){0};
  plain_scratch = (Scratch){0};
  rl_thread_cleanup();
}

static void free_instance(napi_env env, void *data, void *hint) {
  (void)hint;
  Instance *inst = data;
  napi_delete_reference(env, inst->status_ref);
  free(inst);
}

NAPI_MODULE_INIT() {
  Instance *inst = calloc(1, sizeof *inst);
  napi_value ab, arr;
  void *mem = NULL;
  if (inst == NULL || napi_create_arraybuffer(env, sizeof(int32_t), &mem, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, 1, ab, 0, &arr) != napi_ok ||
      napi_create_reference(env, arr, 1, &inst->status_ref) != napi_ok) {
    free(inst);
    napi_throw_error(env, NULL, "lean_tls: init failed");
    return NULL;
  }
  inst->status = mem;
  napi_set_instance_data(env, inst, free_instance, NULL);
  napi_add_env_cleanup_hook(env, free_thread_scratch, NULL);
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"createContext", create_context}, {"newSession", new_session}, {"feed", feed},
      {"takeOutput", take_output},       {"encrypt", encrypt},        {"shutdown", shutdown_tls},
      {"free", free_session},            {"exportKeyingMaterial", export_keying_material},
      {"protocol", protocol},            {"alpn", alpn},              {"lastError", last_error_fn},
      {"status", status_fn},             {"detach", detach_session},  {"adopt", adopt_session},
      {"discard", discard_session},      {"dupFd", dup_fd},           {"closeFd", close_fd},
      {"recordLayer", record_layer},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}
