package report

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/coverage"
)

func TestCoverageMapDraws(t *testing.T) {
	c := city.Wuhan()
	cells := coverage.ServiceArea(c, 7) // coarser than the service's 8: the test only checks the drawing
	var buf bytes.Buffer
	if err := CoverageMap(&buf, c, cells, func(i int) int { return i % 3 }, "test", 600); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 550 || b.Dx() > 650 || b.Dy() < b.Dx() {
		t.Fatalf("image %v: want about 600 px wide and taller than wide (Wuhan is)", b)
	}
	// The three reach colours are all on the map.
	seen := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	for _, col := range [][3]uint32{{0xd7, 0x30, 0x27}, {0xfd, 0xae, 0x61}, {0x1a, 0x98, 0x50}} {
		if !seen[col] {
			t.Errorf("colour %x not drawn", col)
		}
	}
}
