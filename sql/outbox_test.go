package sql

import (
	"bytes"
	"testing"
)

func FuzzDecodeOutbox(f *testing.F) {
	f.Add(encodeOutbox([]OutboxMsg{{Topic: "ems.assignments", Key: []byte("C1"), Value: []byte(`{"a":1}`)}}))
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := decodeOutbox(b)
		if err != nil {
			return
		}
		// Lengths may be written in more bytes than needed; what they say must survive.
		again, err := decodeOutbox(encodeOutbox(msgs))
		if err != nil || len(again) != len(msgs) {
			t.Fatalf("re-decoding %d messages: %d, %v", len(msgs), len(again), err)
		}
		for i := range msgs {
			if again[i].Topic != msgs[i].Topic || !bytes.Equal(again[i].Key, msgs[i].Key) || !bytes.Equal(again[i].Value, msgs[i].Value) {
				t.Fatalf("message %d changed in a round trip", i)
			}
		}
	})
}
