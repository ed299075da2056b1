// Package checkout owns shopbot's side of Stripe: it opens Checkout sessions
// for buyers (Sessions), takes Stripe's signed webhook events and stores them
// durably before acknowledging (Webhook), and turns stored events into
// licenses, renewals and revocations (Worker). Catch-up reads the Events API
// for anything the webhook missed and feeds it through the same store.
//
// Fulfillment reads everything it needs from the event itself (metadata
// shopbot_product and shopbot_identity), never from a re-fetch, so it works
// the same against Stripe and stripe-mock. See worker.go for the money flows.
package checkout
