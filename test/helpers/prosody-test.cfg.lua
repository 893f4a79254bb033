-- Prosody config template for the interop tests (test/helpers/prosody.ts fills the {{…}} slots).
-- Prosody 0.12 (Debian) is the reference server the MUC / MAM scripts also run against: c2s on
-- loopback only, STARTTLS and direct TLS with a self-signed P-256 certificate for `localhost`,
-- personal archives (mod_mam, XEP-0313) on the VirtualHost and group chat (XEP-0045) with room
-- archives (mod_muc_mam) on conference.localhost. Nothing here touches /etc/prosody.
run_as_root = true -- the tests may run as root, and Prosody refuses that otherwise (util/startup.lua)
pidfile = nil
data_path = "{{data}}"
log = { { levels = { min = "{{loglevel}}" }, to = "file", filename = "{{log}}" } }
plugin_paths = {}
network_backend = "epoll"
network_settings = { nagle = false }
modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; "offline"; "blocklist"; "carbons";
  "mam";
}
-- No s2s, HTTP or rate limits: the tests speak c2s on loopback only.
modules_disabled = { "s2s"; "limits" }
c2s_ports = { {{c2s}} }
c2s_direct_tls_ports = { {{tls}} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_interfaces = { "127.0.0.1" }
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
authentication = "internal_hashed"
storage = "internal"
certificates = "{{certdir}}"
ssl = { key = "{{key}}"; certificate = "{{cert}}" }
c2s_direct_tls_ssl = { key = "{{key}}"; certificate = "{{cert}}" }

-- mod_mam: archive every conversation (XEP-0313 §6 default 'always'), pages of up to 50 (the scripts
-- page with max=10; waddle's default cap is 50 too), kept for a week.
default_archive_policy = true
max_archive_query_results = 50
archive_expires_after = "1w"

VirtualHost "localhost"
  ssl = { key = "{{key}}"; certificate = "{{cert}}" }

-- Ad-hoc rooms, as waddle hosts them on conference.<domain>. Any user may create one
-- (restrict_room_creation = false); a new room stays locked until its owner accepts the default
-- configuration or submits the muc#owner form (XEP-0045 §10.1.2, muc_room_locking). Rooms persist
-- (muc_room_default_persistent) so a room outlives its last occupant, as the scripts' history and
-- archive checks expect; mod_muc_mam archives every room (muc_log_by_default) and also serves the
-- join history from the archive (XEP-0045 §7.2.15).
Component "conference.localhost" "muc"
  modules_enabled = { "muc_mam" }
  restrict_room_creation = false
  muc_room_locking = true
  muc_room_default_persistent = true
  muc_log_by_default = true
  muc_log_all_rooms = false
  max_history_messages = 20
