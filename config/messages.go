package config

import "strings"

// Messages points at the messages file that replaces the built-in chat
// texts (see `shopbot messages`).
type Messages struct {
	// File is the path of the TOML messages file ("" = English built-in
	// texts only), relative to the working directory like store.path.
	File string `toml:"file"`
	// DefaultLanguage is the file's table used for buyers whose own
	// language it does not have ("" = English).
	DefaultLanguage string `toml:"default_language"`
}

func (c *Config) validateMessages(p *problems) {
	m := c.Messages
	if m.DefaultLanguage != "" && m.File == "" && !strings.EqualFold(m.DefaultLanguage, "en") {
		p.add("messages.default_language", "is %q but messages.file is not set; only English is built in", m.DefaultLanguage)
	}
}
