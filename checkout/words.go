package checkout

import "github.com/shopbot/shopbot/words"

// Buyer notices this package sends, English defaults with named
// placeholders; the messages file may replace them (keys in Messages).
const (
	textDeliveryLifetime = "Thank you for your purchase of {product}! Your license key: {key}\nYou can see it again at any time with /license."
	textDeliveryUntil    = "Thank you for your purchase of {product}! Your license key: {key}\nIt runs until {until}.\nYou can see it again at any time with /license."
	textAsyncFailed      = "Your payment for {product} did not go through, so no license was issued. You can try again with /buy {id}."
	textRenewalFailed    = "The payment for your {product} subscription failed. Stripe will try again; please update your payment method (/license → Manage subscription) to keep your access."

	// Telegram shows these when it asks shopbot whether to take a Stars
	// payment (pre-checkout) and shopbot says no.
	textStarsUnknown      = "This invoice is not from this shop. Send /buy to get a new one."
	textStarsProductGone  = "This product is no longer sold here. Send /buy to see what is."
	textStarsOtherBuyer   = "This invoice was made for someone else. Send /buy to get your own."
	textStarsPriceChanged = "The price of {product} has changed. Send /buy {id} for a new invoice."
	textStarsAlreadyPaid  = "This invoice for {product} is already paid. Your key is in /license; send /buy {id} to buy another."
	textStarsBusy         = "The shop cannot take the payment right now. Please try again in a minute."
)

// Messages is this package's part of the message catalog. Adding a notice
// is one line here plus notify.Say(key, text, args...) where it is sent.
func Messages() []words.Message {
	return []words.Message{
		{Key: "delivery.lifetime", Text: textDeliveryLifetime},
		{Key: "delivery.until", Text: textDeliveryUntil},
		{Key: "payment.async_failed", Text: textAsyncFailed},
		{Key: "payment.renewal_failed", Text: textRenewalFailed},
		{Key: "stars.refused_unknown", Text: textStarsUnknown},
		{Key: "stars.refused_product", Text: textStarsProductGone},
		{Key: "stars.refused_buyer", Text: textStarsOtherBuyer},
		{Key: "stars.refused_price", Text: textStarsPriceChanged},
		{Key: "stars.refused_paid", Text: textStarsAlreadyPaid},
		{Key: "stars.refused_busy", Text: textStarsBusy},
	}
}
