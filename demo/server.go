package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/store"
)

//go:embed web
var webFiles embed.FS

// Persona is one person the visitor can act as, in both chats.
type Persona struct {
	Name       string `json:"name"`
	TelegramID int64  `json:"telegram_id"`
	DiscordID  string `json:"discord_id"`
}

// Options wire the page to the fakes and the shop. Every field but
// Logger, Clock, Now, Sweep and HTTPClient is required.
type Options struct {
	Stripe    *StripeFront
	Telegram  *telegramtest.Server
	Discord   *discordtest.Server
	AuthForge *authforgetest.Server
	// Store is the shop's store, read for the events panel.
	Store *store.DB
	// WebhookSecret signs the events posted to the shop.
	WebhookSecret string
	// ShopURL is the shop's base URL (where /webhooks/stripe is), empty
	// until the shop listens.
	ShopURL func() string
	Buyer   Persona
	Admin   Persona
	// Products are the shop's products, shown with their prices' ids.
	Products []config.Product
	// RoleNames names the Discord roles for the panel.
	RoleNames map[string]string
	Logger    *slog.Logger
	// Clock is the demo's time, which POST /api/clock/advance moves
	// forward; give the shop and the fakes its Now. Default: a clock on
	// Now, itself default time.Now.
	Clock *Clock
	Now   func() time.Time
	// Sweep runs the shop's licensing sweeper once (licensing.Service's
	// Sweep) after the clock moved; nil skips it.
	Sweep func(ctx context.Context) (removed int, err error)
	// HTTPClient posts webhook events; default a client with a 10s timeout.
	HTTPClient *http.Client
	// FeedChat is the Telegram chat of the admin feed ([alerts]); 0:
	// none.
	FeedChat int64
	// DashboardLink makes a one-time dashboard sign-in link for the
	// admin (dashboard.go); nil: no dashboard.
	DashboardLink func(ctx context.Context) (string, error)
}

// Server is the demo page, its JSON API and the stand-in checkout page.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	hc   *http.Client
	// clock is opts.Clock; advanceMu serialises advances and their sweeps.
	clock     *Clock
	advanceMu sync.Mutex

	mu      sync.Mutex
	nextEvt int
	// transcripts hold what each Discord user did, by persona role.
	transcripts map[string]*transcript
}

// New checks opts and builds the Server.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Stripe == nil || opts.Telegram == nil || opts.Discord == nil || opts.AuthForge == nil:
		return nil, errors.New("demo: Options need the Stripe front and the Telegram, Discord and AuthForge fakes")
	case opts.Store == nil:
		return nil, errors.New("demo: Options.Store is required")
	case opts.WebhookSecret == "" || opts.ShopURL == nil:
		return nil, errors.New("demo: Options.WebhookSecret and ShopURL are required")
	case opts.Buyer.TelegramID == 0 || opts.Admin.TelegramID == 0 || opts.Buyer.DiscordID == "" || opts.Admin.DiscordID == "":
		return nil, errors.New("demo: Options.Buyer and Admin need Telegram and Discord ids")
	}
	s := &Server{opts: opts, log: opts.Logger, hc: opts.HTTPClient, mux: http.NewServeMux(),
		transcripts: map[string]*transcript{roleBuyer: {}, roleAdmin: {}}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.clock = opts.Clock
	if s.clock == nil {
		s.clock = NewClock(opts.Now)
	}
	s.opts.Now = s.clock.Now
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 10 * time.Second}
	}
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		return nil, err
	}
	s.mux.Handle("GET /", noCache(http.FileServerFS(static)))
	// Browsers ask for /favicon.ico whatever the page links; the SVG
	// answers both.
	favicon, err := fs.ReadFile(static, "favicon.svg")
	if err != nil {
		return nil, err
	}
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "max-age=86400")
		_, _ = w.Write(favicon)
	})
	s.mux.HandleFunc("GET /api/state", s.handleState)
	s.mux.HandleFunc("POST /api/telegram/send", s.handleTelegramSend)
	s.mux.HandleFunc("POST /api/telegram/press", s.handleTelegramPress)
	s.mux.HandleFunc("POST /api/telegram/pay", s.handleTelegramPay)
	s.mux.HandleFunc("POST /api/stars/{action}", s.handleStarsAction)
	s.mux.HandleFunc("POST /api/discord/send", s.handleDiscordSend)
	s.mux.HandleFunc("POST /api/discord/click", s.handleDiscordClick)
	s.mux.HandleFunc("POST /api/stripe/{action}", s.handleStripeAction)
	s.mux.HandleFunc("POST /api/clock/advance", s.handleClockAdvance)
	s.mux.HandleFunc("GET /pay/{id}", s.handlePayPage)
	s.mux.HandleFunc("POST /pay/{id}", s.handlePayAction)
	s.mux.HandleFunc("GET /billing/{customer}", s.handleBillingPage)
	s.mux.HandleFunc("GET /checkout/success", s.handleReturn(true))
	s.mux.HandleFunc("GET /checkout/cancel", s.handleReturn(false))
	s.mux.HandleFunc("GET /dashboard", s.handleDashboard)
	s.mux.HandleFunc("GET /admin/", s.handleAdmin)
	s.mux.HandleFunc("POST /admin/", s.handleAdmin)
	return s, nil
}

// ServeHTTP serves the page, the API and the checkout page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Persona roles as the API names them.
const (
	roleBuyer = "buyer"
	roleAdmin = "admin"
)

func (s *Server) persona(role string) (Persona, bool) {
	switch role {
	case roleBuyer:
		return s.opts.Buyer, true
	case roleAdmin:
		return s.opts.Admin, true
	}
	return Persona{}, false
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError answers {"error": msg}.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// readJSON decodes a small JSON body into v; false after answering 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

// asField is the "as" of an API request: the persona (buyer or admin) who
// acts. Request bodies embed it.
type asField struct {
	As string `json:"as"`
}

func (a asField) as() string { return a.As }

// readAs decodes a persona's request into in (a pointer to a struct that
// embeds asField) and returns the persona it names. When the persona is
// unknown, or valid (which may be nil) rejects the decoded request, it
// answers 400 with need; in every failure it reports false after answering.
// valid runs after the decode and may normalise in (trim a text, say).
func (s *Server) readAs(w http.ResponseWriter, r *http.Request, in interface{ as() string }, need string, valid func() bool) (Persona, bool) {
	if !readJSON(w, r, in) {
		return Persona{}, false
	}
	p, ok := s.persona(in.as())
	if !ok || (valid != nil && !valid()) {
		apiError(w, http.StatusBadRequest, need)
		return Persona{}, false
	}
	return p, true
}

// needAs is the 400 answer to a request with no valid "as".
const needAs = `"as" must be buyer or admin`

// shopBase is the shop's URL without a trailing slash.
func (s *Server) shopBase() string { return strings.TrimRight(s.opts.ShopURL(), "/") }
