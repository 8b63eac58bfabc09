package city

import (
	_ "embed"
	"fmt"
	"sync"
)

//go:embed wuhan.json
var wuhanJSON []byte

var wuhan = sync.OnceValues(func() (*City, error) {
	c, err := Parse(wuhanJSON)
	if err != nil {
		return nil, fmt.Errorf("built-in Wuhan city: %w", err)
	}
	return c, nil
})

// Wuhan returns the built-in Wuhan city: 13 districts, about 70 stations across the seven
// central districts and 33 more outside, the designated hospitals, fever clinics and Fangcang
// shelter hospitals of 2020, and a fleet of 258 units. The notes in the file say which parts
// are data and which are estimates. Each call returns a fresh copy the caller may change.
func Wuhan() *City {
	if _, err := wuhan(); err != nil {
		panic(err) // the embedded file is checked by TestWuhan; this cannot happen in a build that passed it
	}
	c, _ := Parse(wuhanJSON)
	return c
}
