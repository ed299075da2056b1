// Package store is shopbot's only persistence: one bbolt file holding Stripe
// events, orders, licenses, activations, open checkout sessions, the audit
// log and a few counters. Everything that must survive a crash goes through
// here, so every write is one bbolt transaction (fsynced on commit) and every
// read-modify-write happens inside a single transaction. One committer
// goroutine makes every write and shares each commit among all writes
// ready at the moment (commit.go). Older files are migrated once, forward
// only, on Open (migrate.go).
//
// Incoming events are the exception to "one transaction": PutEvent makes
// an event durable in the journal beside the file (<path>.journal, see
// journal.go), one sequential write and fdatasync shared by every delivery
// ready, and the committer copies journaled events into bbolt with its
// next commit. Reads of events wait for that copy (settle), Open replays
// what a crash left in the journal, and a clean Close leaves it empty.
//
// Layout (bucket → key → value, all values JSON):
//
//	meta                 name → string (schema_version, key_check, and PutMeta values)
//	events               event id → Event (without payload)
//	events_payload       event id → the Stripe body as received (written once)
//	events_seq           seq (8 bytes big endian) → event id   (arrival order)
//	events_state         state 0x00 seq → event id               (per-state queues)
//	events_due           priority, due (ns), seq → event id      (pending only; due.go)
//	events_key           order key 0x00 seq → empty              (pending only)
//	counters             name → int64                             (counters.go)
//	orders               order id → Order
//	orders_pi            payment intent id → order id
//	orders_sub           subscription id → order id
//	licenses             kid → License
//	licenses_owner       identity 0x00 kid → empty
//	activations          identity 0x00 kid → Activation
//	activations_key      kid 0x00 identity → empty
//	open_sessions        identity 0x00 product id → OpenSession
//	open_sessions_id     checkout session id → open_sessions key
//	audit                seq (8 bytes big endian) → AuditEntry
//	members              place 0x00 identity → Member            (members.go)
//
// kid is the license key itself in a plain store and HMAC-SHA256 of it in an
// encrypted one, so with Options.EncryptionKey the file holds no license key,
// session token or signed session payload in the clear (see crypt.go). The
// API always takes and returns plaintext.
//
// Callbacks passed to UpsertOrder and UpdateLicense run inside the write
// transaction: they must be quick and must not call the DB (bbolt allows one
// writer, so a nested write would deadlock).
package store
