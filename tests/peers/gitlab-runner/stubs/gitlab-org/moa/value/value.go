// Package value is a minimal moa value model: enough for the runner to decode job inputs
// from the job payload and check their declared types.
package value

import (
	"encoding/json"
	"errors"
	"iter"
)

type Kind int

const (
	NullKind Kind = iota
	BoolKind
	NumberKind
	StringKind
	ArrayKind
	ObjectKind
)

func (k Kind) String() string {
	return [...]string{"null", "bool", "number", "string", "array", "object"}[k]
}

var (
	ErrAttributeNotFound = errors.New("attribute not found")
	ErrInvalidKey        = errors.New("invalid key")
)

// Mapper is an object-like value, such as the runner's job inputs.
type Mapper interface {
	All() iter.Seq2[Value, Value]
	Attr(a string) (Value, error)
	Get(key Value) (Value, error)
	Keys() iter.Seq[Value]
	Len() int
	Values() iter.Seq[Value]
	WithMarks(marks uint16) Mapper
}

type Value struct {
	kind  Kind
	data  any
	marks uint16
}

func Null() Value                      { return Value{} }
func String(s string) Value            { return Value{kind: StringKind, data: s} }
func Object(m Mapper) Value            { return Value{kind: ObjectKind, data: m} }
func (v Value) Kind() Kind             { return v.kind }
func (v Value) HasMarks(m uint16) bool { return v.marks&m == m }

func (v Value) WithMarks(m uint16) Value {
	v.marks |= m
	return v
}

func (v Value) String() string {
	if s, ok := v.data.(string); ok {
		return s
	}
	b, _ := json.Marshal(v.data)
	return string(b)
}

func (v *Value) UnmarshalJSON(b []byte) error {
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*v = Value{kind: kindOf(raw), data: raw}
	return nil
}

func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.data) }

func kindOf(raw any) Kind {
	switch raw.(type) {
	case bool:
		return BoolKind
	case float64:
		return NumberKind
	case string:
		return StringKind
	case []any:
		return ArrayKind
	case map[string]any:
		return ObjectKind
	default:
		return NullKind
	}
}
