package licensing

import "github.com/shopbot/shopbot/words"

// Buyer notices this package sends, English defaults with named
// placeholders; the messages file may replace them (keys in Messages).
const (
	textLossExpired   = "Your license {key} for {product} has expired, so the access it gave has ended. Renew with /buy {id}."
	textLossReleased  = "Your activation of license {key} for {product} was released, so the access it gave has ended. If the key is still yours, activate it again with /activate."
	textLossRevoked   = "Your license {key} for {product} was revoked, so the access it gave has ended. Buy a new one with /buy {id}."
	textReminderDays  = "Your license {key} for {product} runs out on {on} (in {n} days). Renew it to keep access: tap Renew or send /buy {id}."
	textReminderHours = "Your license {key} for {product} runs out on {on} (in {n} hours). Renew it to keep access: tap Renew or send /buy {id}."
	textReminderHour  = "Your license {key} for {product} runs out on {on} (in 1 hour). Renew it to keep access: tap Renew or send /buy {id}."
	textExtended      = "Your license {key} for {product} now runs until {until}."
	textGranted       = "You have been given a license for {product}: {key}\nActivate it with /activate {key}"
	textGrantedUntil  = "You have been given a license for {product}: {key}\nActivate it with /activate {key}\nIt runs until {until}."
)

// Messages is this package's part of the message catalog. Adding a notice
// is one line here plus notify.Say(key, text, args...) where it is sent.
func Messages() []words.Message {
	return []words.Message{
		{Key: "loss.expired", Text: textLossExpired},
		{Key: "loss.released", Text: textLossReleased},
		{Key: "loss.revoked", Text: textLossRevoked},
		{Key: "reminder.days", Text: textReminderDays},
		{Key: "reminder.hours", Text: textReminderHours},
		{Key: "reminder.hour", Text: textReminderHour},
		{Key: "license.extended", Text: textExtended},
		{Key: "license.granted", Text: textGranted},
		{Key: "license.granted_until", Text: textGrantedUntil},
	}
}
