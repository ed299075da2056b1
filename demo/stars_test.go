package demo

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
)

// botCall calls the Telegram stand-in as the bot would and decodes its
// result into out.
func (e *env) botCall(method string, form url.Values, out any) {
	e.t.Helper()
	resp, err := http.PostForm(e.tg.URL()+"/bot"+e.tg.Token()+"/"+method, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || !a.OK {
		e.t.Fatalf("%s: HTTP %d, %v", method, resp.StatusCode, err)
	}
	if out != nil {
		json.Unmarshal(a.Result, out)
	}
}

// The page shows a Stars invoice button as a payment sheet's data, a
// payment and its refund as service lines, and the Stars payments in the
// panel with Telegram's own actions; its API refuses what cannot be paid
// or done.
func TestStarsInvoicePaymentsAndActions(t *testing.T) {
	e := newEnv(t)
	buyer := telegramtest.User{ID: 5001, FirstName: "Bea"}
	e.tg.OpenPrivateChat(buyer)
	var link string
	e.botCall("createInvoiceLink", url.Values{"title": {"Pro"}, "description": {"All premium commands"}, "payload": {"so:1"},
		"currency": {"XTR"}, "prices": {`[{"label":"Pro","amount":250}]`}}, &link)
	kb := `{"inline_keyboard":[[{"text":"Pay 250 ⭐ for Pro","url":"` + link + `"}],[{"text":"Card","url":"https://example.com/pay"}]]}`
	e.botCall("sendMessage", url.Values{"chat_id": {"5001"}, "text": {"Pro"}, "reply_markup": {kb}}, nil)

	st := e.state("")
	msgs := st.Telegram["buyer"]
	if len(msgs) != 1 || len(msgs[0].Buttons) != 2 {
		t.Fatalf("messages = %+v", msgs)
	}
	if inv := msgs[0].Buttons[0][0].Invoice; inv == nil || *inv != (TGInvoice{Link: link, Title: "Pro", Description: "All premium commands", Stars: 250}) {
		t.Errorf("Stars button = %+v", msgs[0].Buttons[0][0])
	}
	if msgs[0].Buttons[1][0].Invoice != nil {
		t.Error("a plain link is shown as an invoice")
	}

	for body, want := range map[string]int{
		`{"as":"buyer"}`:                             http.StatusBadRequest,
		`{"as":"mallory","link":"` + link + `"}`:     http.StatusBadRequest,
		`{"as":"buyer","link":"https://t.me/$nope"}`: http.StatusNotFound,
	} {
		if code, resp := e.do("POST", "/api/telegram/pay", "application/json", body); code != want {
			t.Errorf("pay %s: %d %s, want %d", body, code, resp, want)
		}
	}

	charge := e.tg.PayOffline(buyer, link)
	if err := e.tg.ResendPayment(charge); err != nil {
		t.Fatal(err)
	}
	st = e.state("")
	if msgs := st.Telegram["buyer"]; len(msgs) != 2 || msgs[1].Service != "You paid 250 ⭐ for Pro" || msgs[1].Text != "" || msgs[1].FromBot {
		t.Fatalf("messages after the payment = %+v", msgs)
	}
	if len(st.Stars) != 1 || st.Stars[0] != (StarsPayment{ChargeID: charge, Buyer: "tg:5001", Title: "Pro", Stars: 250, Date: st.Stars[0].Date}) || st.Stars[0].Date.IsZero() {
		t.Fatalf("panel = %+v", st.Stars)
	}

	action := func(name, charge string) int {
		code, _ := e.do("POST", "/api/stars/"+name, "application/json", `{"charge":"`+charge+`"}`)
		return code
	}
	if code := action("renew", charge); code != http.StatusConflict {
		t.Errorf("renewing a one-time payment: %d", code)
	}
	if code := action("refund", "stxn_nope"); code != http.StatusNotFound {
		t.Errorf("refunding an unknown payment: %d", code)
	}
	if code := action("steal", charge); code != http.StatusNotFound {
		t.Errorf("unknown action: %d", code)
	}
	if code := action("refund", charge); code != 200 {
		t.Fatalf("refund: %d", code)
	}
	st = e.state("")
	if msgs := st.Telegram["buyer"]; len(msgs) != 3 || msgs[2].Service != "250 ⭐ refunded for Pro" || !st.Stars[0].Refunded || !e.tg.Refunded(charge) {
		t.Errorf("after the refund: messages %+v, panel %+v", msgs, st.Stars)
	}
	if code := action("refund", charge); code != http.StatusConflict {
		t.Errorf("second refund: %d", code)
	}
}
