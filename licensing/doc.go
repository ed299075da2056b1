// Package licensing owns everything shopbot knows about license keys after
// they exist: issuing them through AuthForge, activating them for a chat
// identity, the entitlement gate that gated commands, roles and the seller's
// own services ask, the sweeper and heartbeats that keep access in step with
// AuthForge, and the admin actions (revoke, lookup, grant, extend, reset,
// transfer).
//
// The store is the durable copy of licenses and activations; AuthForge is the
// authority on whether a key is still good. Between refreshes the gate answers
// from an in-memory copy of each identity's activations and the signed session
// AuthForge returned, so a check with a fresh session costs no network call
// and no credit.
//
// Access is synced, never toggled: after any change to a buyer's activations
// the service computes every product the buyer is entitled to now and hands
// the full list to Notifier.SyncAccess.
//
// Whole license keys and session tokens never reach the logs; they are masked
// with authforge.MaskKey.
package licensing
