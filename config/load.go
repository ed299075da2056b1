package config

import (
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with the configuration, tied to the key that
// has to change. Load and Validate return Problems joined with errors.Join,
// so a caller can list them or errors.As one out.
type Problem struct {
	Key     string // key path: "stripe.secret_key", "products[1].id"
	Message string // what is wrong and how to fix it
}

func (p *Problem) Error() string {
	if p.Key == "" {
		return p.Message
	}
	return p.Key + ": " + p.Message
}

// envRef is one ${NAME} reference inside a string value.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// bareKey is a TOML key that needs no quotes in a key path.
var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Load reads the TOML file at path over Default(), expands ${NAME} in every
// string value with env (os.LookupEnv when nil), applies the implicit
// defaults (normalize) and returns the result. It does not Validate.
//
// Errors: a syntax error names its line and column; otherwise every unknown
// key, unset variable and type mismatch is reported at once, each with its key
// path.
func Load(path string, env func(string) (string, bool)) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("%w; start from the example: cp config.example.toml %s, then fill in the keys it marks required (or point --config or SHOPBOT_CONFIG at your file)", err, path)
	}
	if err != nil {
		return Config{}, err
	}
	return parse(string(data), env)
}

// parse is Load without the file.
//
// The document is decoded into its primitive tree first, then copied into a
// Config by decodeInto. Expanding on the tree rather than on the decoded
// struct means a reference works for every string value, including ones that
// are not Go strings (durations), and every error can carry the exact key
// path, array indices included.
func parse(data string, env func(string) (string, bool)) (Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	var tree map[string]any
	if _, err := toml.Decode(data, &tree); err != nil {
		return Config{}, syntaxError(err)
	}
	cfg := Default()
	d := decoder{env: env}
	d.table("", tree, reflect.ValueOf(&cfg).Elem())
	if len(d.errs) > 0 {
		return Config{}, errors.Join(d.errs...)
	}
	cfg.normalize()
	return cfg, nil
}

// syntaxError turns a toml parse error into "line L, column C: message".
func syntaxError(err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	msg := pe.Message
	if pe.LastKey != "" {
		msg += fmt.Sprintf(" (after key %q)", pe.LastKey)
	}
	return fmt.Errorf("TOML syntax error at line %d, column %d: %s", pe.Position.Line, pe.Position.Col, msg)
}

// normalize applies defaults that depend on other values or sit inside
// arrays of tables, where Default cannot put them.
func (c *Config) normalize() {
	for i := range c.Products {
		if c.Products[i].MaxHWIDSlots == 0 {
			c.Products[i].MaxHWIDSlots = 1
		}
	}
}

// decoder copies a parsed TOML tree into a struct by toml tags, expanding
// ${NAME} in strings, and collects every problem instead of stopping at the
// first.
type decoder struct {
	env  func(string) (string, bool)
	errs []error
}

func (d *decoder) fail(key, format string, args ...any) {
	d.errs = append(d.errs, &Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// table decodes the TOML table m into the struct dst. Only exact toml tags
// match: a key in another case is a typo like any other.
func (d *decoder) table(path string, m map[string]any, dst reflect.Value) {
	fields := make(map[string]int, dst.NumField())
	for i := range dst.NumField() {
		tag, _, _ := strings.Cut(dst.Type().Field(i).Tag.Get("toml"), ",")
		if tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := joinKey(path, k)
		i, ok := fields[k]
		if !ok {
			known := make([]string, 0, len(fields))
			for name := range fields {
				known = append(known, name)
			}
			d.fail(key, "unknown key%s; remove it or fix its spelling (config.example.toml lists every key)", suggest(k, known))
			continue
		}
		d.value(key, m[k], dst.Field(i))
	}
}

func (d *decoder) value(key string, v any, dst reflect.Value) {
	if dst.Addr().Type().Implements(textUnmarshaler) {
		s, ok := v.(string)
		if !ok {
			d.fail(key, "expected a string, found %s", describe(v))
			return
		}
		s, ok = d.expand(key, s)
		if !ok {
			return
		}
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			if dst.Type() == reflect.TypeFor[Duration]() {
				d.fail(key, "%q is not a duration; write it like \"72h\", \"90m\" or \"1h30m\"", s)
				return
			}
			d.fail(key, "%q: %v", s, err)
		}
		return
	}
	switch dst.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.fail(key, "expected a string, found %s", describe(v))
			return
		}
		if s, ok = d.expand(key, s); ok {
			dst.SetString(s)
		}
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.fail(key, "expected true or false, found %s", describe(v))
			return
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			d.fail(key, "expected an integer, found %s", describe(v))
			return
		}
		if dst.OverflowInt(n) {
			d.fail(key, "%d is out of range", n)
			return
		}
		dst.SetInt(n)
	case reflect.Slice:
		d.slice(key, v, dst)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.fail(key, "expected a table ([%s]), found %s", key, describe(v))
			return
		}
		d.table(key, m, dst)
	default:
		// Unreachable for the Config types; kept so a new field of an
		// unsupported kind fails loudly instead of being skipped.
		d.fail(key, "cannot decode into %s", dst.Type())
	}
}

func (d *decoder) slice(key string, v any, dst reflect.Value) {
	var elems []any
	switch a := v.(type) {
	case []any:
		elems = a
	case []map[string]any:
		elems = make([]any, len(a))
		for i := range a {
			elems[i] = a[i]
		}
	default:
		if dst.Type().Elem().Kind() == reflect.Struct {
			d.fail(key, "expected an array of tables ([[%s]]), found %s", key, describe(v))
		} else {
			d.fail(key, "expected an array, found %s", describe(v))
		}
		return
	}
	out := reflect.MakeSlice(dst.Type(), len(elems), len(elems))
	for i, e := range elems {
		d.value(fmt.Sprintf("%s[%d]", key, i), e, out.Index(i))
	}
	dst.Set(out)
}

// expand replaces each ${NAME} in s with the variable's value. It is a
// single pass: a value containing "${...}" is not expanded again. A "$" not
// followed by {NAME} is kept as written.
func (d *decoder) expand(key, s string) (string, bool) {
	ok := true
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		val, set := d.env(name)
		if !set {
			ok = false
			d.fail(key, "environment variable %s is not set (referenced as %s); export it, or set it to an empty value if the key is unused", name, ref)
		}
		return val
	})
	return out, ok
}

func joinKey(path, k string) string {
	if !bareKey.MatchString(k) {
		k = strconv.Quote(k)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// describe names the TOML type of a parsed value for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the float %v", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date/time"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// suggest returns ` (did you mean "x"?)` for the known key closest to k, when
// one is close enough to be a likely typo.
func suggest(k string, known []string) string {
	sort.Strings(known)
	best, bestDist := "", 3
	for _, name := range known {
		if strings.EqualFold(name, k) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
		if dist := editDistance(strings.ToLower(k), name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of a and b in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // not a typo of any key; skip the quadratic work
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
