package checkout

import "github.com/shopbot/shopbot/words"

// Buyer notices this package sends, English defaults with named
// placeholders; the messages file may replace them (keys in Messages).
const (
	textDeliveryLifetime = "Thank you for your purchase of {product}! Your license key: {key}\nYou can see it again at any time with /license."
	textDeliveryUntil    = "Thank you for your purchase of {product}! Your license key: {key}\nIt runs until {until}.\nYou can see it again at any time with /license."
	textAsyncFailed      = "Your payment for {product} did not go through, so no license was issued. You can try again with /buy {id}."
	textRenewalFailed    = "The payment for your {product} subscription failed. Stripe will try again; please update your payment method (/license → Manage subscription) to keep your access."
)

// Messages is this package's part of the message catalog. Adding a notice
// is one line here plus notify.Say(key, text, args...) where it is sent.
func Messages() []words.Message {
	return []words.Message{
		{Key: "delivery.lifetime", Text: textDeliveryLifetime},
		{Key: "delivery.until", Text: textDeliveryUntil},
		{Key: "payment.async_failed", Text: textAsyncFailed},
		{Key: "payment.renewal_failed", Text: textRenewalFailed},
	}
}
