package store

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Orders, licenses and activations are the records a shop keeps one of per
// sale, so they are stored in a compact binary form (schema 5) instead of
// JSON: a version byte, then for each non-zero field its number and value.
//
//	record = 0x01 { uvarint(field<<1 | kind) value }
//	kind 0: value = varint (ints zigzag, bools 1, times unix nanoseconds UTC)
//	kind 1: value = uvarint(len) bytes (strings, []byte, identities as text)
//
// A field's number is its `rec:"N"` struct tag; it never changes and is
// never reused. Every field carries one (`rec:"-"` leaves it out), so a
// field added without a number fails every write instead of vanishing. Zero values are left out, and a reader skips numbers it
// does not know, so adding a field is one tagged line in the struct: old
// records read as its zero value, and an older shopbot reading a newer
// record ignores it. Records still in JSON (they start with '{': written
// before schema 5) are read as JSON.

const recordV1 = 0x01

const (
	kindVarint = 0
	kindBytes  = 1
)

var (
	timeType = reflect.TypeFor[time.Time]()
	byteType = reflect.TypeFor[[]byte]()
)

// maxRecordField bounds field numbers, so a record type's table is a
// small slice rather than a map built on every call.
const maxRecordField = 255

// recordFields lists the tagged fields of a struct type: entry n is the
// index+1 of the field numbered n, 0 when no field has that number.
func recordFields(t reflect.Type) ([]int, error) {
	var out []int
	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("rec")
		switch {
		case tag == "-":
			continue
		case !ok:
			// A field without a number would silently not be stored.
			return nil, fmt.Errorf("store: %s.%s has no rec tag; give it the next free number, or rec:\"-\" to leave it out", t.Name(), t.Field(i).Name)
		}
		n, err := strconv.ParseUint(tag, 10, 8)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("store: %s.%s: bad rec tag %q (1..%d)", t.Name(), t.Field(i).Name, tag, maxRecordField)
		}
		for uint64(len(out)) <= n {
			out = append(out, 0)
		}
		if out[n] != 0 {
			return nil, fmt.Errorf("store: %s: rec tag %d used twice", t.Name(), n)
		}
		out[n] = i + 1
	}
	return out, nil
}

// encodeRecord writes the tagged fields of the struct v points to or is.
func encodeRecord(v any) ([]byte, error) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	fields, err := recordFields(rv.Type())
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1, 128)
	buf[0] = recordV1
	// Ascending field numbers keep the encoding deterministic.
	for num, idx := range fields {
		if idx == 0 {
			continue
		}
		n := uint64(num)
		f := rv.Field(idx - 1)
		if f.IsZero() {
			continue
		}
		switch {
		case f.Type() == timeType:
			buf = binary.AppendUvarint(buf, n<<1|kindVarint)
			buf = binary.AppendVarint(buf, f.Interface().(time.Time).UnixNano())
		case f.Type() == byteType:
			buf = appendBytes(buf, n, f.Bytes())
		case f.Kind() == reflect.String:
			buf = appendBytes(buf, n, []byte(f.String()))
		case f.Kind() == reflect.Bool:
			buf = binary.AppendUvarint(buf, n<<1|kindVarint)
			buf = binary.AppendVarint(buf, 1)
		case f.CanInt():
			buf = binary.AppendUvarint(buf, n<<1|kindVarint)
			buf = binary.AppendVarint(buf, f.Int())
		case f.CanUint():
			buf = binary.AppendUvarint(buf, n<<1|kindVarint)
			buf = binary.AppendVarint(buf, int64(f.Uint()))
		default:
			m, ok := f.Interface().(encoding.TextMarshaler)
			if !ok {
				return nil, fmt.Errorf("store: %s: field %d has an unsupported type %s", rv.Type().Name(), n, f.Type())
			}
			text, err := m.MarshalText()
			if err != nil {
				return nil, fmt.Errorf("store: %s field %d: %w", rv.Type().Name(), n, err)
			}
			buf = appendBytes(buf, n, text)
		}
	}
	return buf, nil
}

func appendBytes(buf []byte, n uint64, b []byte) []byte {
	buf = binary.AppendUvarint(buf, n<<1|kindBytes)
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

var errShortRecord = errors.New("record cut short")

// decodeRecord fills the struct v points to from raw, binary or JSON.
func decodeRecord(raw []byte, v any) error {
	if len(raw) > 0 && raw[0] == '{' {
		return json.Unmarshal(raw, v)
	}
	if len(raw) == 0 || raw[0] != recordV1 {
		return fmt.Errorf("unknown record format")
	}
	rv := reflect.ValueOf(v).Elem()
	fields, err := recordFields(rv.Type())
	if err != nil {
		return err
	}
	for p := raw[1:]; len(p) > 0; {
		key, k := binary.Uvarint(p)
		if k <= 0 {
			return errShortRecord
		}
		p = p[k:]
		var num int64
		var val []byte
		switch key & 1 {
		case kindVarint:
			if num, k = binary.Varint(p); k <= 0 {
				return errShortRecord
			}
			p = p[k:]
		case kindBytes:
			l, k := binary.Uvarint(p)
			if k <= 0 || uint64(len(p)-k) < l {
				return errShortRecord
			}
			val, p = p[k:k+int(l)], p[k+int(l):]
		}
		n := key >> 1
		if n >= uint64(len(fields)) || fields[n] == 0 {
			continue // a field of a newer shopbot
		}
		if err := setField(rv.Field(fields[n]-1), key&1, num, val); err != nil {
			return fmt.Errorf("%s field %d: %w", rv.Type().Name(), key>>1, err)
		}
	}
	return nil
}

func setField(f reflect.Value, kind uint64, num int64, val []byte) error {
	wantBytes := f.Kind() == reflect.String || f.Type() == byteType ||
		(f.Type() != timeType && f.Addr().Type().Implements(reflect.TypeFor[encoding.TextUnmarshaler]()))
	if wantBytes != (kind == kindBytes) {
		return fmt.Errorf("stored kind %d does not fit %s", kind, f.Type())
	}
	switch {
	case f.Type() == timeType:
		f.Set(reflect.ValueOf(time.Unix(0, num).UTC()))
	case f.Type() == byteType:
		f.SetBytes(append([]byte(nil), val...))
	case f.Kind() == reflect.String:
		f.SetString(string(val))
	case f.Kind() == reflect.Bool:
		f.SetBool(num != 0)
	case f.CanInt():
		f.SetInt(num)
	case f.CanUint():
		f.SetUint(uint64(num))
	default:
		return f.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText(val)
	}
	return nil
}

// putRecord stores v in its compact form under key.
func putRecord(b *bolt.Bucket, key []byte, v any) error {
	raw, err := encodeRecord(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return b.Put(key, raw)
}
