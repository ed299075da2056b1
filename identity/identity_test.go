package identity

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Identity
		wantErr bool
	}{
		{in: "tg:123", want: TelegramUser(123)},
		{in: "discord:123456789012345678", want: DiscordUser("123456789012345678")},
		{in: " TG:5 ", want: TelegramUser(5)},
		{in: "tg:", wantErr: true},
		{in: "tg:0", wantErr: true},
		{in: "tg:0042", wantErr: true},
		{in: "tg:-5", wantErr: true},
		{in: "tg:12a", wantErr: true},
		{in: "slack:1", wantErr: true},
		{in: "123", wantErr: true},
		{in: "tg:123456789012345678901", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) error = %v, want ErrInvalid", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, _ := Parse(got.String()); back != got {
			t.Errorf("round trip of %q gave %v", tt.in, back)
		}
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(struct{ Who Identity }{TelegramUser(42)})
	if err != nil || string(b) != `{"Who":"tg:42"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var v struct{ Who Identity }
	if err := json.Unmarshal([]byte(`{"Who":"discord:7"}`), &v); err != nil || v.Who != DiscordUser("7") {
		t.Fatalf("unmarshal = %v, %v", v, err)
	}
	if err := json.Unmarshal([]byte(`{"Who":"x:7"}`), &v); err == nil {
		t.Fatal("bad identity accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"tg:1", "discord:99", "tg:", ":", "x:y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(i.String())
		if err != nil || back != i {
			t.Fatalf("%q parsed to %v but its string form %q does not round-trip", s, i, i.String())
		}
	})
}
