// TLS 1.3 record protection after the handshake (RFC 8446 §5, §4.6.3), for connections whose OpenSSL
// state has been freed. See record_layer.c for why.
#ifndef WADDLE_RECORD_LAYER_H
#define WADDLE_RECORD_LAYER_H
#include <stddef.h>
#include <stdint.h>

// Status bits, written to the per-env Int32Array after feed() (read by src/tls/lean/index.ts).
#define ST_OUTPUT 1  // ciphertext to send: takeOutput()
#define ST_SECURE 2  // the handshake completed during this call
#define ST_CLOSED 4  // the peer sent close_notify
#define ST_ERROR 8   // fatal TLS error: lastError(); any alert to send is in the output
#define ST_HANDED_OFF 16  // OpenSSL's state was freed during this call (record_layer.c serves from now on)

typedef struct {
  unsigned char *data;
  size_t len, cap;
} Scratch;

int scratch_reserve(Scratch *s, size_t need);

// Bytes of the RFC 9266 tls-exporter value kept for SASL channel binding once OpenSSL's state is gone.
#define RL_EXPORTER_BYTES 32
#define RL_EXPORTER_LABEL "EXPORTER-Channel-Binding"

typedef struct RecordLayer RecordLayer;

RecordLayer *rl_new(void);
void rl_free(RecordLayer *rl);

// The application traffic secrets, as OpenSSL's key log reports them during the handshake.
// `server` selects server_application_traffic_secret_0 (ours, for writing) over the client's.
int rl_set_secret(RecordLayer *rl, int server, const uint8_t *secret, size_t len);
int rl_has_secrets(const RecordLayer *rl);

// Takes over: `suite` is the TLS 1.3 cipher suite (0x1301-0x1303), the sequence numbers are the records
// OpenSSL already read and wrote with the application keys, `max_plain` the largest record plaintext
// (16384, or what the client's RFC 6066 max_fragment_length asked for). Returns 0 for a suite it cannot serve.
int rl_activate(RecordLayer *rl, uint16_t suite, uint64_t read_seq, uint64_t write_seq, size_t max_plain,
                const uint8_t exporter[RL_EXPORTER_BYTES], const uint8_t *alpn, size_t alpn_len);

// Decrypts records from the peer: application data is appended to `plain`, anything to send back (a
// KeyUpdate, an alert) to `out`. Returns ST_CLOSED / ST_ERROR bits (error text in `err`).
int rl_feed(RecordLayer *rl, const uint8_t *in, size_t len, Scratch *plain, Scratch *out, char *err, size_t err_len);

// Protects `data` as application data records appended to `out`. Returns 0 on failure (text in `err`).
int rl_seal(RecordLayer *rl, const uint8_t *data, size_t len, Scratch *out, char *err, size_t err_len);

// Appends our close_notify (once); later rl_seal calls fail.
void rl_close_notify(RecordLayer *rl, Scratch *out);

const uint8_t *rl_exporter(const RecordLayer *rl);
const uint8_t *rl_alpn(const RecordLayer *rl, size_t *len);

// Frees the calling thread's cipher contexts (a worker thread going away).
void rl_thread_cleanup(void);

#endif
