package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/broadcast"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/licensing"
	"github.com/shopbot/shopbot/words"
)

// builtinWords is the catalog of every buyer-facing message shopbot has,
// English only. A package that sends buyer text contributes its table here.
func builtinWords() (*words.Catalog, error) {
	return words.New(commands.Messages(), checkout.Messages(), licensing.Messages(), broadcast.Messages())
}

// loadWords is the catalog the shop speaks: the built-in texts replaced by
// the messages file of cfg, when there is one.
func loadWords(cfg config.Config) (*words.Catalog, error) {
	c, err := builtinWords()
	if err != nil {
		return nil, err
	}
	if cfg.Messages.File == "" {
		return c, nil
	}
	return c.Load(cfg.Messages.File, cfg.Messages.DefaultLanguage)
}

// cmdMessages prints the built-in table as a messages file. It is made from
// the same table the shop renders, so it cannot go stale.
func cmdMessages(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError{errors.New("takes no arguments; redirect the output to a file, e.g. shopbot messages > messages.toml")}
	}
	c, err := builtinWords()
	if err != nil {
		return err
	}
	if err := c.WriteTOML(stdout); err != nil {
		return fmt.Errorf("write messages: %w", err)
	}
	return nil
}
