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
//   - SSL_MODE_RELEASE_BUFFERS frees the record buffers whenever a connection has nothing in flight.
// What stays per connection is OpenSSL's session state (SSL object, record layers, cipher contexts).
//
// Threads: every call runs on the JS thread of the worker that owns the connection; scratch buffers and
// the status word are per thread (each worker has its own N-API env and instance data).
#include <node_api.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Status bits, written to the per-env Int32Array after feed() (read by src/tls/lean/index.ts).
#define ST_OUTPUT 1     // ciphertext to send: takeOutput()
#define ST_SECURE 2     // the handshake completed during this call
#define ST_CLOSED 4     // the peer sent close_notify
#define ST_ERROR 8      // fatal TLS error: lastError(); any alert to send is in the output

typedef struct {
  SSL *ssl;
  const unsigned char *in;  // input being fed, valid only during feed()
  size_t in_len;
  int secure;
} Conn;

typedef struct {
  unsigned char *data;
  size_t len, cap;
} Scratch;

typedef struct {
  napi_ref status_ref;
  int32_t *status;
} Instance;

static __thread Scratch out_scratch;    // ciphertext produced by the current call
static __thread Scratch plain_scratch;  // plaintext read, or a string's UTF-8 being written
static __thread char last_error[256];

// Scratch buffers above this are shrunk after use, so one large stanza does not pin memory per thread.
#define SCRATCH_KEEP (256 * 1024)

static int scratch_reserve(Scratch *s, size_t need) {
  if (s->cap >= need) return 1;
  size_t cap = s->cap ? s->cap : 16384;
  while (cap < need) cap *= 2;
  unsigned char *p = realloc(s->data, cap);
  if (p == NULL) return 0;
  s->data = p;
  s->cap = cap;
  return 1;
}

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

// createContext(keyPem, certChainPem, ciphers12, groups | null, alpnXmppClient) -> External<SSL_CTX>
static napi_value create_context(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "createContext(key, cert, ciphers, groups, alpn)");
    return NULL;
  }
  ERR_clear_error();
  char *key = get_string(env, argv[0]), *cert = get_string(env, argv[1]), *ciphers = get_string(env, argv[2]);
  napi_valuetype groups_type;
  napi_typeof(env, argv[3], &groups_type);
  char *groups = groups_type == napi_string ? get_string(env, argv[3]) : NULL;
  bool alpn = false;
  napi_get_value_bool(env, argv[4], &alpn);
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
}

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
  int status = 0;
  inst->status[0] = 0;
  if (c->ssl == NULL) return undefined(env);
  ERR_clear_error();
  out_scratch.len = 0;
  plain_scratch.len = 0;
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
  if (c == NULL || c->ssl == NULL || !c->secure) {
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
    if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) {
      napi_throw_type_error(env, NULL, "encrypt(session, string | Buffer)");
      return NULL;
    }
    if (!scratch_reserve(&plain_scratch, len + 1)) return throw_last(env, "out of memory");
    napi_get_value_string_utf8(env, argv[1], (char *)plain_scratch.data, len + 1, &len);
    data = plain_scratch.data;
  }
  ERR_clear_error();
  out_scratch.len = 0;
  size_t written = 0;
  int ok = len == 0 || SSL_write_ex(c->ssl, data, len, &written) == 1;
  if (!is_buffer) scratch_trim(&plain_scratch);
  if (!ok) return throw_last(env, "TLS write failed");
  return buffer_from_scratch(env, &out_scratch);
}

// shutdown(conn) -> Buffer | undefined: our close_notify.
static napi_value shutdown_tls(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  if (c == NULL || c->ssl == NULL || !c->secure) return undefined(env);
  ERR_clear_error();
  out_scratch.len = 0;
  SSL_shutdown(c->ssl);
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
  if (c == NULL || c->ssl == NULL) {
    napi_throw_error(env, NULL, "detach: the TLS session is closed");
    return NULL;
  }
  Conn *moved = malloc(sizeof *moved);
  if (moved == NULL) return throw_last(env, "out of memory");
  *moved = *c;
  moved->in = NULL;
  moved->in_len = 0;
  BIO_set_data(SSL_get_rbio(c->ssl), moved);
  c->ssl = NULL;
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
  if (c == NULL || c->ssl == NULL || !c->secure || napi_get_value_uint32(env, argv[1], &length) != napi_ok || length == 0 ||
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
  if (label != NULL && napi_create_buffer(env, length, &out, &buf) == napi_ok &&
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
  if (c == NULL || c->ssl == NULL || !c->secure) return string_or_null(env, NULL, 0);
  return string_or_null(env, SSL_get_version(c->ssl), NAPI_AUTO_LENGTH);
}

// alpn(conn) -> the negotiated ALPN protocol | null
static napi_value alpn(napi_env env, napi_callback_info info) {
  Conn *c = session_arg(env, info);
  const unsigned char *p = NULL;
  unsigned int n = 0;
  if (c != NULL && c->ssl != NULL) SSL_get0_alpn_selected(c->ssl, &p, &n);
  return string_or_null(env, n == 0 ? NULL : (const char *)p, n);
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
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}
