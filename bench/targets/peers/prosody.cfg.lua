-- Prosody config template for the waddle benchmark (bench/targets/prosody.ts fills the {{…}} slots).
-- Equivalent to waddle's bench config: c2s on loopback only, STARTTLS with a self-signed P-256
-- certificate (required unless the run is plain), roster, presence, offline storage, blocking, ping,
-- disco, version and CSI on; archiving (MAM, muc_mam), s2s, HTTP and rate limits off. Group chat
-- (XEP-0045) on conference.localhost for the `muc` scenario.
run_as_root = true -- the harness runs as root and Prosody refuses that otherwise (util/startup.lua)
pidfile = nil
data_path = "{{data}}"
log = { { levels = { min = "warn" }, to = "file", filename = "{{log}}" } }
plugin_paths = {}
network_backend = "epoll"
-- Prosody's server_epoll keeps Nagle on by default (nagle = true): with one message in flight per
-- stream, replies then wait for the client's delayed ACK (~40 ms). waddle and ejabberd set
-- TCP_NODELAY, so it is off here too; the listen backlog is raised from 128 for login bursts.
network_settings = { nagle = false; tcp_backlog = 4096 }
-- mod_limits is not loaded, so no c2s rate limit applies; the stanza size limit stays at its default.
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; "offline"; "blocklist"; "csi_simple";
}
modules_disabled = { "s2s"; "limits"; "mam"; "muc_mam" }
c2s_ports = { {{c2s}} }
c2s_direct_tls_ports = { {{tls}} }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = {{require_tls}}
allow_unencrypted_plain_auth = false
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"
certificates = "{{certdir}}"
ssl = { key = "{{key}}"; certificate = "{{cert}}" }
c2s_direct_tls_ssl = { key = "{{key}}"; certificate = "{{cert}}" }
VirtualHost "localhost"
  ssl = { key = "{{key}}"; certificate = "{{cert}}" }
-- The `muc` scenario's rooms: created by their first joiner (restrict_room_creation = false: any user
-- may), open and not members-only (Prosody's defaults), locked until the creator submits the instant-room
-- form (muc_room_locking, the default; XEP-0045 §10.1.2), which the generator does. No muc_mam: rooms keep
-- only their in-memory history (default 20), as waddle's bench config has room archives off.
Component "conference.localhost" "muc"
  restrict_room_creation = false
  muc_room_locking = true
