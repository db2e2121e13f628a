package main

// The train/test split of calib_validation: scikit-learn's
// train_test_split(test_size=0.2, random_state=42), with numpy's Mersenne
// Twister reproduced bit for bit.

// mt19937 is the Mersenne Twister behind numpy's legacy RandomState. It is
// reproduced bit for bit so that the calibration split is the one
// scikit-learn's train_test_split(random_state=42) makes.
type mt19937 struct {
	state [624]uint32
	index int
}

// newMT19937 seeds the generator the way RandomState(seed) does for an
// integer seed (init_genrand).
func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{index: 624}
	m.state[0] = seed
	for i := 1; i < 624; i++ {
		prev := m.state[i-1]
		m.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	return m
}

// uint32 returns the next 32-bit output (genrand_int32).
func (m *mt19937) uint32() uint32 {
	const upper, lower = 0x80000000, 0x7fffffff
	if m.index >= 624 {
		for i := 0; i < 624; i++ {
			y := m.state[i]&upper | m.state[(i+1)%624]&lower
			next := m.state[(i+397)%624] ^ (y >> 1)
			if y&1 != 0 {
				next ^= 0x9908b0df
			}
			m.state[i] = next
		}
		m.index = 0
	}
	y := m.state[m.index]
	m.index++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// interval returns a uniform integer in [0, max] by masked rejection
// sampling, as numpy's random_interval does for max < 2^32.
func (m *mt19937) interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	for {
		if v := m.uint32() & mask; v <= max {
			return v
		}
	}
}

// permutation returns RandomState.permutation(n): the identity shuffled by
// numpy's legacy Fisher-Yates loop (i from n-1 down to 1, j in [0, i]).
func (m *mt19937) permutation(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i >= 1; i-- {
		j := int(m.interval(uint32(i)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// trainTestSplit reproduces scikit-learn's train_test_split(range(n),
// test_size=0.2, random_state=42): test size ceil(0.2·n), the test rows are
// the first of the permutation and the training rows the rest, both in
// permutation order.
func trainTestSplit(n int) (train, test []int) {
	_, nTest := splitSizes(n)
	perm := newMT19937(42).permutation(n)
	return perm[nTest:], perm[:nTest]
}

// splitSizes returns the training and test row counts of the 80/20 split:
// test = ceil(0.2·n), computed without floating point.
func splitSizes(n int) (train, test int) {
	test = (n*2 + 9) / 10
	return n - test, test
}
