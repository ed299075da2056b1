// Package demo is the web side of `shopbot demo`: a page where a visitor
// plays a Telegram buyer, a Discord buyer and an admin against the real
// shop, wired as `shopbot run` wires it but pointed at the in-process
// fakes (telegramtest, discordtest, authforgetest, stripetest).
//
// It owns four things:
//
//   - StripeFront, a stand-in for the three Stripe API endpoints the shop
//     calls: Checkout sessions (whose url is the demo's own checkout page),
//     the Events API (listing the events the demo sent, for the shop's
//     catch-up) and Billing Portal sessions (whose url is a stand-in
//     portal page). It answers them itself rather than through
//     stripe-mock, which prints every request on standard output;
//   - the stand-in checkout page (/pay/{id}) and the panel's payment
//     actions, which post correctly signed Stripe events to the shop's
//     real /webhooks/stripe;
//   - the stand-in of Telegram's payment sheet for Stars invoices
//     (stars.go): it pays through the Telegram fake's Pay, so the shop
//     answers a real pre_checkout_query and takes a successful_payment;
//     the panel's Stars actions renew a Star subscription or refund a
//     payment as Telegram would on its own;
//   - the page itself (embedded HTML, CSS and JavaScript, no build step)
//     and its JSON API (/api/...), which plays users through the fakes'
//     control APIs and reads back what the bots did.
//
// Clock is the demo's time: the real time plus an offset the page moves
// forward (POST /api/clock/advance), read by the shop and every fake so a
// visitor sees sessions and licenses expire without waiting; after each
// jump the shop's licensing sweeper runs once.
//
// Nothing here needs a network: every service is on loopback.
package demo
