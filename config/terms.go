package config

import (
	"net/url"
)

// Terms of sale (issue 13, item 5).
type Terms struct {
	// URL of the terms; empty: no terms are asked.
	URL string `toml:"url"`
	// Version of the terms (default "1"); a new version is asked again.
	Version string `toml:"version"`
}

// maxTermsVersion keeps the version short enough for dispute evidence and
// chat messages.
const maxTermsVersion = 64

func (c *Config) validateTerms(p *problems) {
	t := c.Terms
	if t.URL == "" {
		if t.Version != "" {
			p.add("terms.version", "set but terms.url is empty; set terms.url to the page of your terms of sale, or remove terms.version")
		}
		if c.Stripe.DisputeEvidenceFinal && !c.Stripe.SubmitDisputeEvidence {
			p.add("stripe.dispute_evidence_final", "set but stripe.submit_dispute_evidence is false; set both to submit evidence")
		}
		return
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.add("terms.url", "%q is not a web address; write the full https:// address of your terms of sale", t.URL)
	}
	if len(t.Version) > maxTermsVersion {
		p.add("terms.version", "%d characters; keep it at most %d (e.g. \"2026-12\")", len(t.Version), maxTermsVersion)
	}
	if c.Stripe.DisputeEvidenceFinal && !c.Stripe.SubmitDisputeEvidence {
		p.add("stripe.dispute_evidence_final", "set but stripe.submit_dispute_evidence is false; set both to submit evidence")
	}
}
