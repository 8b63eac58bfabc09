package blocks

import "testing"

// Elements keep their positions and their addresses as the list grows past several blocks.
func TestAddKeepsPositionsAndAddresses(t *testing.T) {
	var l List[int]
	first := l.At(l.Add(7))
	for i := 1; i < 3*Len+5; i++ {
		if got := l.Add(i * 3); got != int32(i) {
			t.Fatalf("Add %d returned position %d", i, got)
		}
	}
	if l.Len() != 3*Len+5 || len(l.Blocks()) != 4 {
		t.Fatalf("len %d in %d blocks, want %d in 4", l.Len(), len(l.Blocks()), 3*Len+5)
	}
	if first != l.At(0) || *first != 7 {
		t.Fatalf("the first element moved or changed: %d", *l.At(0))
	}
	for i := int32(1); i < l.Len(); i++ {
		if *l.At(i) != int(i)*3 || l.Blocks()[i>>Shift][i&Mask] != int(i)*3 {
			t.Fatalf("element %d is %d", i, *l.At(i))
		}
	}
}
