package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/shopbot/shopbot/licensing/authforge"
)

//go:embed templates/*.html static/style.css
var files embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"overview", "licenses", "events", "audit", "refused"}

// pages holds the parsed templates and the stylesheet; parsed once, read
// only afterwards.
type pages struct {
	byName map[string]*template.Template
	style  []byte
}

var funcs = template.FuncMap{
	"mask": authforge.MaskKey,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02")
	},
}

func parsePages() (pages, error) {
	p := pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return pages{}, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	style, err := files.ReadFile("static/style.css")
	if err != nil {
		return pages{}, fmt.Errorf("dashboard: stylesheet: %w", err)
	}
	p.style = style
	return p, nil
}

func (p pages) css(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(p.style)
}

// frame is what layout.html reads; Body is the page's own data.
type frame struct {
	Page  string
	Who   string
	CSRF  string
	Flash string
	Body  any
}

// render writes a whole page; a template error is a 500 with nothing
// half-written.
func (d *Dashboard) render(w http.ResponseWriter, status int, name string, s view, body any) {
	f := frame{Page: name, Body: body, CSRF: s.csrf}
	if !s.who.IsZero() {
		f.Who = s.who.String()
		f.Flash = d.auth.takeFlash(s.id)
	}
	var buf bytes.Buffer
	if err := d.pages.byName[name].Execute(&buf, f); err != nil {
		d.log.Error("dashboard: render page", "page", name, "err", err)
		http.Error(w, "The page could not be shown; the log says why.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows a page that could not read its data.
func (d *Dashboard) fail(w http.ResponseWriter, s view, what string, err error) {
	d.log.Error("dashboard: "+what, "err", err)
	d.render(w, http.StatusInternalServerError, "refused", s, "Could not read "+what+"; the log says why.")
}

// money renders minor units of a currency: "12.34 EUR", "250 Stars".
func money(amount int64, currency string) string {
	cur := strings.ToUpper(currency)
	switch cur {
	case "XTR":
		return fmt.Sprintf("%d Stars", amount)
	case "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return fmt.Sprintf("%d %s", amount, cur)
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, amount/100, amount%100, cur)
}
