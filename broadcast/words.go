package broadcast

import "github.com/shopbot/shopbot/words"

// textAnnouncement is TextAnnouncement with a named placeholder: the
// catalog's English default for what buyers read.
const textAnnouncement = "{text}\n\n(Shop announcement. Send /mute to stop these.)"

// Messages is this package's part of the message catalog (buyer-facing
// only; progress reports to the admin stay English).
func Messages() []words.Message {
	return []words.Message{{Key: "broadcast.announcement", Text: textAnnouncement}}
}
