package exporter

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// deflateFixed appends src to dst as one final deflate block with the fixed Huffman codes of
// RFC 1951 §3.2.6, after greedy LZ77 matching over src alone, and returns dst. It compresses
// the small operational tail of a gzipped scrape (a few KB of text). compress/flate would
// compress it somewhat better, but every flate.Writer carries about 1.2 MB of hash tables and
// windows whatever the level: pooled, that was the largest object an idle exporter held. This
// needs a 32 KB match table and no Huffman tables to build.
//
// dst must end on a byte boundary of the deflate stream (after a sync flush, or empty).
func deflateFixed(dst, src []byte) []byte {
	table := matchTables.Get().(*[1 << fixedHashBits]int32)
	defer matchTables.Put(table)
	clear(table[:])
	w := bitWriter{out: dst}
	w.write(0b011, 3) // BFINAL=1, BTYPE=01 (fixed Huffman)
	lit := 0          // src[lit:i] are literals still to be written
	for i := 0; i+fixedMinMatch <= len(src); {
		h := fixedHash(binary.LittleEndian.Uint32(src[i:]))
		cand := int(table[h]) - 1 // positions are stored +1 so 0 means empty
		table[h] = int32(i + 1)   // #nosec G115 -- a scrape's tail is far below 2 GiB
		if cand < 0 || i-cand > fixedMaxDistance ||
			binary.LittleEndian.Uint32(src[cand:]) != binary.LittleEndian.Uint32(src[i:]) {
			i++
			continue
		}
		n := fixedMinMatch
		for n < fixedMaxMatch && i+n < len(src) && src[cand+n] == src[i+n] {
			n++
		}
		for _, c := range src[lit:i] {
			w.literal(c)
		}
		w.match(n, i-cand)
		// Index a few positions inside the match too, so the next repeat of it is found.
		for j := i + 1; j < i+n && j+fixedMinMatch <= len(src) && j < i+8; j++ {
			table[fixedHash(binary.LittleEndian.Uint32(src[j:]))] = int32(j + 1) // #nosec G115 -- as above
		}
		i += n
		lit = i
	}
	for _, c := range src[lit:] {
		w.literal(c)
	}
	w.write(0, 7) // end of block: symbol 256, the seven-bit code 0000000
	return w.flush()
}

const (
	fixedHashBits    = 13
	fixedMinMatch    = 4 // matches of 3 rarely pay with fixed codes; 4 lets one load compare
	fixedMaxMatch    = 258
	fixedMaxDistance = 32768
)

// matchTables are deflateFixed's hash tables of recent positions, kept off the goroutine stack.
var matchTables = sync.Pool{New: func() any { return new([1 << fixedHashBits]int32) }}

func fixedHash(u uint32) uint32 { return (u * 0x1e35a7bd) >> (32 - fixedHashBits) }

// bitWriter writes deflate's bit stream: values least significant bit first, Huffman codes
// most significant bit first (so they are reversed before writing).
type bitWriter struct {
	out   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc)) // #nosec G115 -- the accumulator's low 8 bits, by design
		w.acc >>= 8
		w.nbits -= 8
	}
}

// code writes the n-bit Huffman code c.
func (w *bitWriter) code(c uint16, n uint) {
	w.write(uint64(bits.Reverse16(c)>>(16-n)), n)
}

// literal writes byte c with its fixed code: 0-143 as 8 bits from 0x30, 144-255 as 9 from 0x190.
func (w *bitWriter) literal(c byte) {
	if c < 144 {
		w.code(0x30+uint16(c), 8)
	} else {
		w.code(0x190+uint16(c)-144, 9)
	}
}

// Length codes 257-285 and distance codes 0-29: each one's base and extra bits (RFC 1951 §3.2.5).
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// match writes a back-reference of length n (3-258) to dist bytes back (1-32768).
func (w *bitWriter) match(n, dist int) {
	l := 28
	for int(lengthBase[l]) > n {
		l--
	}
	// Symbols 257-279 have the 7-bit codes 0-22, 280-285 the 8-bit codes from 0xc0.
	if sym := 257 + l; sym < 280 {
		w.code(uint16(sym-256), 7) // #nosec G115 -- below 24
	} else {
		w.code(0xc0+uint16(sym-280), 8) // #nosec G115 -- below 6
	}
	w.write(uint64(n)-uint64(lengthBase[l]), uint(lengthExtra[l])) // #nosec G115 -- n ≥ 3
	d := 29
	for int(distBase[d]) > dist {
		d--
	}
	w.code(uint16(d), 5)                                          // #nosec G115 -- below 30
	w.write(uint64(dist)-uint64(distBase[d]), uint(distExtra[d])) // #nosec G115 -- dist ≥ 1
}

// flush pads the last byte with zero bits and returns the output.
func (w *bitWriter) flush() []byte {
	if w.nbits > 0 {
		w.out = append(w.out, byte(w.acc)) // #nosec G115 -- the accumulator's low 8 bits, by design
		w.acc, w.nbits = 0, 0
	}
	return w.out
}
