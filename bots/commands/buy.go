package commands

import (
	"context"
	"regexp"
	"strings"

	"github.com/shopbot/shopbot/config"
)

// catalog lists every product with one button each. In a shared chat the
// buttons open the private chat instead, because checkout links are only
// sent privately (SPEC §4.1).
func (h *Handler) catalog(req Request) Reply {
	l := h.to(req)
	if len(h.products) == 0 {
		return Reply{Text: l.say("buy.catalog_empty"), Ephemeral: true}
	}
	var b strings.Builder
	b.WriteString(l.say("buy.catalog"))
	rows := make([][]Button, 0, len(h.products))
	for _, p := range h.products {
		b.WriteByte('\n')
		if p.Description != "" {
			b.WriteString(l.say("buy.product_line", "product", plain(productName(p)), "description", plain(p.Description)))
		} else {
			b.WriteString("• " + plain(productName(p)))
		}
		rows = append(rows, []Button{h.buyButton(p, req.Private)})
	}
	return Reply{Text: b.String(), Buttons: rows, Ephemeral: true}
}

// buyButton buys p in place in a private chat, and opens the private chat
// on p in a shared one.
func (h *Handler) buyButton(p config.Product, private bool) Button {
	if private {
		return Button{Label: productName(p), Data: BuyData(p.ID)}
	}
	return Button{Label: productName(p), Start: "buy_" + p.ID}
}

// buyCommand is /buy [product [code]], the arguments in that order (the
// Discord adapter puts its named options in this order, with an empty
// product when only a code was given).
func (h *Handler) buyCommand(ctx context.Context, req Request) Reply {
	var id, code string
	if len(req.Args) > 0 {
		id = req.Args[0]
	}
	if len(req.Args) > 1 {
		code = req.Args[1]
	}
	if id == "" && code != "" {
		ids := make([]string, 0, len(h.products))
		for _, p := range h.products {
			ids = append(ids, "`"+p.ID+"`")
		}
		return Reply{Text: h.to(req).say("buy.code_usage", "products", strings.Join(ids, ", ")), Ephemeral: true}
	}
	return h.buy(ctx, req, id, code)
}

// buy is /buy [product [code]]: the catalog without a product, else a
// checkout link button for the product, with the promotion code applied
// when one is given.
func (h *Handler) buy(ctx context.Context, req Request, id, code string) Reply {
	if id == "" {
		return h.catalog(req)
	}
	l := h.to(req)
	p, ok := h.byID[strings.ToLower(id)]
	if !ok {
		r := h.catalog(req)
		r.Text = problemIn(l, Problem{Kind: KindUnknownProduct}) + "\n\n" + r.Text
		return r
	}
	if !req.Private {
		return goPrivateBuy(l, p.ID, code)
	}
	rows, stripe, err := h.payButtons(ctx, req, p.ID, productName(p), code)
	if err != nil {
		return h.fail(ctx, req, "checkout link", err)
	}
	intro := plain(productName(p))
	if p.Description != "" {
		intro += " — " + plain(p.Description)
	}
	key := "buy.intro"
	switch {
	case len(rows) > 1:
		key = "buy.intro_both"
	case !stripe:
		key = "buy.intro_stars"
	}
	text := l.say(key, "product", intro)
	switch {
	case code != "" && stripe:
		text = l.say("buy.code_applied", "code", plain(code)) + "\n" + text
	case code != "":
		text = l.say("buy.code_not_stars", "code", plain(code)) + "\n" + text
	}
	return Reply{Text: text, Buttons: rows, Ephemeral: true}
}

// gatedCommand answers a configured gated command: its reply for entitled
// users, else what to buy. The reply is members-only content, so it is
// only given where no one else reads it.
func (h *Handler) gatedCommand(ctx context.Context, req Request, name string, g config.GatedCommand) Reply {
	l := h.to(req)
	if !req.Private {
		return goPrivate(l, l.say("private.go"), "cmd_"+name)
	}
	err := h.shop.Check(ctx, req.Who, g.Products...)
	if err == nil {
		return Reply{Text: plain(g.Reply), Ephemeral: true}
	}
	if h.problem(err).Kind != KindNotEntitled {
		return h.fail(ctx, req, "gate "+name, err)
	}
	var names []string
	var rows [][]Button
	for _, id := range g.Products {
		p, ok := h.byID[id]
		if !ok {
			continue
		}
		names = append(names, plain(productName(p)))
		rows = append(rows, []Button{h.buyButton(p, req.Private)})
	}
	if len(names) == 0 {
		return Reply{Text: l.say("gate.no_product"), Ephemeral: true}
	}
	return Reply{Text: l.say("gate.needs", "products", orList(l, names)), Buttons: rows, Ephemeral: true}
}

func productName(p config.Product) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

// orList joins names as "A", "A or B", "A, B or C".
func orList(l reader, names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return l.say("list.or", "first", strings.Join(names[:len(names)-1], ", "), "last", names[len(names)-1])
}

// startCode is what a promotion code may be to ride in a Telegram start
// link: the link's payload allows 64 characters of [A-Za-z0-9_-], and
// "buy_<id>_" takes up to 37 of them.
var startCode = regexp.MustCompile(`^[A-Za-z0-9-]{1,27}$`)

// goPrivateBuy sends a group's /buy to the private chat, keeping the
// promotion code in the start link when it fits there, else asking for it
// again in the private chat.
func goPrivateBuy(l reader, product, code string) Reply {
	switch {
	case code == "":
		return goPrivate(l, l.say("private.buy"), "buy_"+product)
	case startCode.MatchString(code):
		return goPrivate(l, l.say("private.buy"), "buy_"+product+"_"+code)
	}
	return goPrivate(l, l.say("private.buy_code", "product", product, "code", plain(code)), "buy_"+product)
}

// startBuy splits a "buy_" start payload into the product and the code.
func startBuy(payload string) (product, code string) {
	product, code, _ = strings.Cut(payload, "_")
	return product, code
}
