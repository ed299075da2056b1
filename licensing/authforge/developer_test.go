package authforge_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/licensing/authforgetest"
)

func TestCreateAndGetLicense(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	exp := start.Add(30 * 24 * time.Hour)
	l, err := e.c.CreateLicense(e.ctx, authforge.CreateParams{ExpiresAt: &exp, MaxHWIDSlots: 3, Label: "shopbot:cs_1"})
	if err != nil {
		t.Fatalf("CreateLicense: %v", err)
	}
	if !authforge.ValidKey(l.Key) || l.Status != "active" || l.MaxHWIDSlots != 3 || l.Label != "shopbot:cs_1" ||
		l.ExpiresAt == nil || !l.ExpiresAt.Equal(exp) || !l.CreatedAt.Equal(start) || l.AppID != e.fake.Options().AppID {
		t.Errorf("created %+v", l)
	}
	if _, err := e.c.Validate(e.ctx, l.Key, "tg:7", time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.GetLicense(e.ctx, l.Key)
	if err != nil {
		t.Fatalf("GetLicense: %v", err)
	}
	if got.Key != l.Key || !slices.Equal(got.HWIDList, []string{"tg:7"}) || got.Label != l.Label {
		t.Errorf("GetLicense = %+v", got)
	}
	life, err := e.c.CreateLicense(e.ctx, authforge.CreateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if life.ExpiresAt != nil || life.MaxHWIDSlots != 1 {
		t.Errorf("lifetime license = %+v", life)
	}
	if n := len(e.fake.Licenses()); n != 2 {
		t.Errorf("fake holds %d licenses", n)
	}
	if _, err := e.c.GetLicense(e.ctx, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"); !errors.Is(err, authforge.ErrNotFound) {
		t.Errorf("unknown key: %v, want ErrNotFound", err)
	}
}

func TestCreateLicenseRejectsBadParams(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	for _, p := range []authforge.CreateParams{{MaxHWIDSlots: 17}, {MaxHWIDSlots: -1}, {Label: strings.Repeat("x", 129)}} {
		if _, err := e.c.CreateLicense(e.ctx, p); !errors.Is(err, authforge.ErrBadRequest) {
			t.Errorf("%+v: %v, want ErrBadRequest", p, err)
		}
	}
	if n := e.rec.roundTrips(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestCreateLicenseNotRetriedOn500(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	e.fake.FailNext("POST /v1/licenses", 1, http.StatusInternalServerError, "server_error")
	_, err := e.c.CreateLicense(e.ctx, authforge.CreateParams{Label: "l1"})
	if !errors.Is(err, authforge.ErrServer) || !errors.Is(err, authforge.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrServer and ErrUnavailable", err)
	}
	if got := e.fake.Calls("POST /v1/licenses"); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestCreateLicenseLostAnswerReconciledByLabel(t *testing.T) {
	for _, hangUp := range []bool{false, true} {
		t.Run(fmt.Sprintf("hangup=%v", hangUp), func(t *testing.T) {
			e := newEnv(t, authforgetest.Options{})
			if hangUp {
				e.fake.HangUpAfterCreateNext()
			} else {
				e.fake.DropAfterCreateNext()
			}
			_, err := e.c.CreateLicense(e.ctx, authforge.CreateParams{Label: "shopbot:cs_9"})
			if !errors.Is(err, authforge.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if got := e.fake.Calls("POST /v1/licenses"); got != 1 {
				t.Errorf("attempts = %d, want 1", got)
			}
			made := e.fake.Licenses()
			if len(made) != 1 {
				t.Fatalf("fake holds %d licenses", len(made))
			}
			found, err := e.c.FindByLabel(e.ctx, "shopbot:cs_9")
			if err != nil || found.Key != made[0].Key {
				t.Fatalf("FindByLabel = %+v, %v", found, err)
			}
		})
	}
}

func TestCreateLicenseTimeoutNotRetried(t *testing.T) {
	e := newEnv(t, authforgetest.Options{}, func(c *authforge.Config) { c.Timeout = 50 * time.Millisecond })
	e.fake.SetLatency(time.Second)
	_, err := e.c.CreateLicense(e.ctx, authforge.CreateParams{Label: "l"})
	if !errors.Is(err, authforge.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if got := e.rec.roundTrips(); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestCreateLicenseRetriedWhenNotSent(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused: the request never left
	e := newEnv(t, authforgetest.Options{})
	c := e.client(func(c *authforge.Config) { c.APIURL = url })
	_, err := c.CreateLicense(e.ctx, authforge.CreateParams{Label: "l"})
	if !errors.Is(err, authforge.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if got := e.rec.roundTrips(); got != 2 {
		t.Errorf("attempts = %d, want 2 (the request was never written)", got)
	}
}

func TestCreateLicenseRetries429(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	e.fake.FailNextWith("POST /v1/licenses", 2, authforgetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second})
	if _, err := e.c.CreateLicense(e.ctx, authforge.CreateParams{Label: "l"}); err != nil {
		t.Fatalf("CreateLicense: %v", err)
	}
	if got := e.fake.Calls("POST /v1/licenses"); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	if got, want := e.rec.slept(), []time.Duration{3 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	if n := len(e.fake.Licenses()); n != 1 {
		t.Errorf("fake holds %d licenses, want 1", n)
	}
}

func TestDeveloperBackoffCapped(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.FailNext("/v1/licenses/", 10, http.StatusTooManyRequests, "") // Retry-After: 1
	_, err := e.c.GetLicense(e.ctx, lic.Key)
	if !errors.Is(err, authforge.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if got := e.fake.Calls("/v1/licenses/"); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	if got, want := e.rec.slept(), []time.Duration{time.Second, time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want max(Retry-After, 500ms·2ⁿ) = %v", got, want)
	}
}

func TestDeveloperNetworkFailureRetriedOnce(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.FailNextWith("PUT /v1/licenses/", 1, authforgetest.Fault{Drop: true})
	if err := e.c.RevokeLicense(e.ctx, lic.Key); err != nil {
		t.Fatalf("RevokeLicense after a drop: %v", err)
	}
	e.fake.FailNextWith("GET /v1/licenses/", 2, authforgetest.Fault{Drop: true})
	_, err := e.c.GetLicense(e.ctx, lic.Key)
	if !errors.Is(err, authforge.ErrUnavailable) {
		t.Fatalf("two drops: %v", err)
	}
	if strings.Contains(err.Error(), lic.Key) {
		t.Errorf("error %q contains the key", err)
	}
	if got := e.fake.Calls("/v1/licenses/"); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
}

func TestRevokeExtendReset(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	exp := start.Add(time.Hour)
	lic := e.seed(authforgetest.License{ExpiresAt: &exp, MaxHWIDSlots: 2, HWIDList: []string{"tg:1", "tg:2"}})
	until := start.Add(90 * 24 * time.Hour)
	if err := e.c.ExtendLicense(e.ctx, lic.Key, until); err != nil {
		t.Fatalf("ExtendLicense: %v", err)
	}
	if err := e.c.ResetHWID(e.ctx, lic.Key); err != nil {
		t.Fatalf("ResetHWID: %v", err)
	}
	got, _ := e.fake.License(lic.Key)
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(until) || len(got.HWIDList) != 0 {
		t.Errorf("after extend+reset: %+v", got)
	}
	if err := e.c.RevokeLicense(e.ctx, lic.Key); err != nil {
		t.Fatalf("RevokeLicense: %v", err)
	}
	if remote, err := e.c.GetLicense(e.ctx, lic.Key); err != nil || remote.Status != "revoked" {
		t.Errorf("after revoke: %+v, %v", remote, err)
	}
	for name, call := range map[string]func(context.Context, string) error{
		"revoke": e.c.RevokeLicense,
		"reset":  e.c.ResetHWID,
		"extend": func(ctx context.Context, k string) error { return e.c.ExtendLicense(ctx, k, until) },
	} {
		if err := call(e.ctx, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"); !errors.Is(err, authforge.ErrNotFound) {
			t.Errorf("%s unknown key: %v, want ErrNotFound", name, err)
		}
	}
}

func TestListAndFindByLabelAcrossPages(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	var keys []string
	for i := range 450 {
		keys = append(keys, e.seed(authforgetest.License{Label: fmt.Sprintf("label-%d", i)}).Key)
	}
	page, next, err := e.c.ListLicenses(e.ctx, "", 100)
	if err != nil || len(page) != 100 || next == "" || page[0].Key != keys[0] {
		t.Fatalf("first page: %d licenses, next %q, %v", len(page), next, err)
	}
	var all []string
	cursor := ""
	for {
		page, next, err := e.c.ListLicenses(e.ctx, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page {
			all = append(all, l.Key)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(all, keys) {
		t.Errorf("walked %d keys, want the 450 in order", len(all))
	}

	before := e.fake.Calls("GET /v1/licenses")
	l, err := e.c.FindByLabel(e.ctx, "label-449")
	if err != nil || l.Key != keys[449] {
		t.Fatalf("FindByLabel = %+v, %v", l, err)
	}
	if got := e.fake.Calls("GET /v1/licenses") - before; got != 3 {
		t.Errorf("FindByLabel made %d list calls, want 3 pages of 200", got)
	}
	if _, err := e.c.FindByLabel(e.ctx, "nope"); !errors.Is(err, authforge.ErrNotFound) {
		t.Errorf("missing label: %v, want ErrNotFound", err)
	}
	if _, _, err := e.c.ListLicenses(e.ctx, "garbage", 10); !errors.Is(err, authforge.ErrBadRequest) {
		t.Errorf("bad cursor: %v, want ErrBadRequest", err)
	}
}

func TestDeveloperAuthErrors(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	bad := e.client(func(c *authforge.Config) { c.APIKey = "af_live_wrong" })
	if _, err := bad.CreateLicense(e.ctx, authforge.CreateParams{}); !errors.Is(err, authforge.ErrForbidden) {
		t.Errorf("wrong API key: %v, want ErrForbidden", err)
	}
	other := e.client(func(c *authforge.Config) { c.AppID = "app_other" })
	if _, _, err := other.ListLicenses(e.ctx, "", 10); !errors.Is(err, authforge.ErrForbidden) {
		t.Errorf("other app: %v, want ErrForbidden", err)
	}
	e.fake.FailNext("POST /v1/licenses", 1, http.StatusPaymentRequired, "no_credits")
	if _, err := e.c.CreateLicense(e.ctx, authforge.CreateParams{}); !errors.Is(err, authforge.ErrNoCredits) || errors.Is(err, authforge.ErrUnavailable) {
		t.Errorf("402: %v, want ErrNoCredits only", err)
	}
}

func TestAPIURLWithV1Suffix(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	c := e.client(func(c *authforge.Config) { c.APIURL = e.fake.URL() + "/v1/" })
	if _, _, err := c.ListLicenses(e.ctx, "", 1); err != nil {
		t.Fatalf("APIURL with /v1/: %v", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]authforge.Config{
		"no app id":   {},
		"bad url":     {AppID: "a", AuthURL: "ftp://x"},
		"short key":   {AppID: "a", PublicKeys: []ed25519.PublicKey{make([]byte, 31)}},
		"neg timeout": {AppID: "a", Timeout: -1},
	} {
		if _, err := authforge.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := authforge.New(authforge.Config{AppID: "a"}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// An app with more licenses than FindByLabel walks must not look like one
// without the label: the caller would create a second license.
func TestFindByLabelThatGivesUpIsNotNotFound(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"licenses":[{"licenseKey":"AAAA-BBBB-CCCC-%04d","appId":"app","status":"active","maxHwidSlots":1,"label":"other","createdAt":"2026-01-01T00:00:00Z"}],"cursor":"c%d"}`, calls%10000, calls)
	}))
	defer srv.Close()
	c, err := authforge.New(authforge.Config{AppID: "app", APIKey: "af_live_x", APIURL: srv.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindByLabel(context.Background(), "shopbot:cs_1")
	if err == nil || errors.Is(err, authforge.ErrNotFound) || !strings.Contains(err.Error(), "cannot tell") {
		t.Fatalf("FindByLabel over an endless listing = %v, want an error that is not ErrNotFound", err)
	}
	if calls < 100 {
		t.Fatalf("gave up after %d pages", calls)
	}
}
