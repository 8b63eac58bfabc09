// Package blocks is a growing list addressed by position, kept in fixed blocks. Adding never
// moves what is there, so a pointer to an element stays valid, and a list of hundreds of
// thousands of elements is a few hundred objects for the garbage collector. One slice would
// copy the whole list at each growth, under whatever lock its owner holds. The dispatch
// engine keeps its units in one, the fleet index its cells and their members.
package blocks

// Shift, Len and Mask address an element: block i>>Shift, place i&Mask.
const (
	Shift = 10
	Len   = 1 << Shift
	Mask  = Len - 1
)

// List is a growing list of T addressed by int32 position. The zero value is empty.
type List[T any] struct {
	b []*[Len]T
	n int32
}

// At returns the element at position i.
func (l *List[T]) At(i int32) *T { return &l.b[i>>Shift][i&Mask] }

// Add appends v and returns its position.
func (l *List[T]) Add(v T) int32 {
	i := l.n
	if i&Mask == 0 {
		l.b = append(l.b, new([Len]T))
	}
	l.n++
	*l.At(i) = v
	return i
}

// Len is the number of elements.
func (l *List[T]) Len() int32 { return l.n }

// Blocks are the list's blocks, for a loop that must not pay for At's call (element i is
// Blocks()[i>>Shift][i&Mask]). Adding may append blocks: read it again after an Add.
func (l *List[T]) Blocks() []*[Len]T { return l.b }
