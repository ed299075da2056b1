package config

import (
	"fmt"
	"path"
	"strings"
)

// maxOutsideLabel is AuthForge's label limit; a longer pattern could only
// match labels AuthForge cannot hold.
const maxOutsideLabel = 128

// validateOutsideKeys checks authforge.accept_outside_keys and the
// products' outside_key_labels (issue 13, item 6). Patterns of two products
// may overlap: the first product in config order wins, as documented, since
// deciding whether two globs share a match is not worth refusing a config.
func (c *Config) validateOutsideKeys(p *problems) {
	usable := false
	for i, pr := range c.Products {
		for j, pat := range pr.OutsideKeyLabels {
			key := fmt.Sprintf("products[%d].outside_key_labels[%d]", i, j)
			switch {
			case strings.TrimSpace(pat) == "":
				p.add(key, "empty pattern; write a glob of AuthForge labels such as \"pro-*\", or remove it")
				continue
			case len(pat) > maxOutsideLabel:
				p.add(key, "%d characters; AuthForge labels have at most %d, so this pattern can never match", len(pat), maxOutsideLabel)
				continue
			}
			if _, err := path.Match(pat, ""); err != nil {
				p.add(key, "%q is not a glob pattern (%v); use * for any characters except /, ? for one, [a-z] for a range", pat, err)
				continue
			}
			usable = true
		}
		if len(pr.OutsideKeyLabels) > 0 && !c.AuthForge.AcceptOutsideKeys {
			p.add(fmt.Sprintf("products[%d].outside_key_labels", i), "set but authforge.accept_outside_keys is false; set it to true to import keys made outside shopbot, or remove these patterns")
		}
	}
	if c.AuthForge.AcceptOutsideKeys && !usable && len(c.Products) > 0 {
		p.add("authforge.accept_outside_keys", "true but no product has outside_key_labels, so every outside key would be refused; add outside_key_labels = [\"pattern\"] to the products such keys stand for")
	}
}
