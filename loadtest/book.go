package loadtest

import (
	"hash/maphash"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/ems120/ems120/city"
)

// sentCall is a call the load test wrote: when (after the start), where (the crews drive
// there when they recycle), and a hash of its first assignment as published. Nothing in it
// points into the heap, so the GC, which marks the book at every cycle of the measurement,
// does not follow a pointer per call.
type sentCall struct {
	at       time.Duration
	scene    city.Point
	first    uint64
	assigned bool
}

// book keeps the calls written and the assignments read for them; the caller locks. It
// knows a call by a 64-bit hash of its id (key), not by the id: a string key is a pointer
// per call that the garbage collector would follow at every cycle, in the process it
// measures.
type book struct {
	start      time.Time
	seed       maphash.Seed
	written    map[uint64]sentCall
	duplicate  map[string]bool // call ids with a second, different assignment
	latencies  []float64       // ms, per assigned call in the order read
	writtenAt  []float64       // seconds after the start, in step with latencies
	perSecond  []int           // assignments read in each second after the start
	lastAssign time.Time
}

// warmHeap readies the heap for a measurement, as a service that has run for a while has it.
// As testing.B does before a benchmark, the garbage of the set-up (the fleet's load, the raw
// Kafka run) is collected now, not charged to the first seconds. And the memory the heap will
// grow into until its next collection (the GC's goal, five times what is live under GOGC 400)
// is touched once now: on a virtual machine the first touch of a page costs a fault, and a
// run's first seconds would otherwise fault in the whole goal, with the service's latency
// (BENCHMARKS.md, "Steady state"). The freed block stays with the process (it is under the
// goal), and the allocator reuses its pages. At most 1 GiB is touched: an hour-long run's
// goal grows past that as it goes.
func warmHeap() {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	goal, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	if goal > live {
		b := make([]byte, min(goal-live, 1<<30))
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		runtime.KeepAlive(b)
	}
	runtime.GC()
}

// newBook returns a book for about expect calls (0 if not known), its table made before the
// measurement starts (the caller sets start).
//
// A Go map grows in tables of at most 1,024 slots that split when full, and keys spread
// evenly, so all of them fill, and split, at about the same count: a book grown call by call
// would build a second copy of itself, memory never touched before, within a few seconds of
// the measurement (around 460,000 calls), and a first touch is dear on a virtual machine.
// Made for the run before the clock starts (make zeroes, so touches, the whole table), the
// table never grows while it is measured.
func newBook(expect int) *book {
	return &book{seed: maphash.MakeSeed(), written: make(map[uint64]sentCall, expect), duplicate: map[string]bool{},
		latencies: make([]float64, 0, expect), writtenAt: make([]float64, 0, expect)}
}

func (b *book) key(callID string) uint64 { return maphash.String(b.seed, callID) }

// write notes a call written. False: its key is taken — the same id written twice, which the
// generator never does, or two ids with one hash, with odds of about n²/2⁶⁵ for n calls (under
// 1 in 10⁹ for a million). The caller fails the run rather than mix two calls up.
func (b *book) write(callID string, sc sentCall) bool {
	k := b.key(callID)
	if _, taken := b.written[k]; taken {
		return false
	}
	b.written[k] = sc
	return true
}

// scene is where the call whose id is key was written to happen (zero for a call the book
// did not write).
func (b *book) scene(key []byte) city.Point { return b.written[maphash.Bytes(b.seed, key)].scene }

// read takes an assignment read at now. Its key is its call id. The first one for a call
// gives the call's latency; the same assignment published again (a replayed outbox row) has
// the same bytes, so a later one with different bytes is a second assignment: a duplicate.
// Assignments for calls the book did not write are none of its business.
func (b *book) read(key, value []byte, now time.Time) {
	k := maphash.Bytes(b.seed, key) // as key(string(key)), without the string
	sc, ours := b.written[k]
	h := maphash.Bytes(b.seed, value)
	switch {
	case !ours:
	case sc.assigned:
		if h != sc.first {
			b.duplicate[string(key)] = true
		}
	default:
		sc.first, sc.assigned = h, true
		b.written[k] = sc
		el := now.Sub(b.start)
		b.latencies = append(b.latencies, float64(el-sc.at)/float64(time.Millisecond))
		b.writtenAt = append(b.writtenAt, sc.at.Seconds())
		sec := int(el.Seconds())
		for len(b.perSecond) <= sec {
			b.perSecond = append(b.perSecond, 0)
		}
		b.perSecond[sec]++
		b.lastAssign = now
	}
}
