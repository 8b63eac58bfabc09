package dispatch

// blocks is a growing list of T addressed by position, kept in fixed blocks of blockLen.
// Adding never moves what is there, so a *T stays valid, and a list of hundreds of
// thousands is a few hundred objects for the garbage collector. One slice would copy the
// whole list at each growth: the fleet index's cells, 600,000 of them in a load test,
// copied up to 100 MB under the engine lock that way (BENCHMARKS.md).
type blocks[T any] struct {
	b []*[blockLen]T
	n int32
}

const (
	blockShift = 10
	blockLen   = 1 << blockShift
	blockMask  = blockLen - 1
)

// at returns the element at position i.
func (l *blocks[T]) at(i int32) *T { return &l.b[i>>blockShift][i&blockMask] }

// add appends v and returns its position.
func (l *blocks[T]) add(v T) int32 {
	i := l.n
	if i&blockMask == 0 {
		l.b = append(l.b, new([blockLen]T))
	}
	l.n++
	*l.at(i) = v
	return i
}
