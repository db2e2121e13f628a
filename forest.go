package main

// Random Forest Regressor: scikit-learn 1.2.1's RandomForestRegressor with
// the service's grid (n_estimators 100, max_depth 10, min_samples_split ∈
// {2, 5, 10}) and its defaults otherwise.
//
// Exact parity with scikit-learn is impossible here: its bootstrap draws come
// from numpy's MT19937 stream and its per-node feature order from the tree
// splitter's own rand_r stream, while ours come from math/rand/v2 PCG seeded
// by nothing but the tree's index. Individual trees therefore differ, and the
// forest's predictions differ from scikit-learn's by bagging noise (the same
// request always gives the same answer, though). Everything else — float32
// features, bootstrap counts as sample weights, the squared-error CART
// splitter and its stopping rules, midpoint thresholds — follows scikit-learn.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// forestSeed is the seed of the served forests (forestParams.seed).
const forestSeed uint64 = 0x6a09e667f3bcc908

// featureThreshold is scikit-learn's FEATURE_THRESHOLD: two float32 feature
// values closer than this are the same value to the splitter.
const featureThreshold float32 = 1e-7

// randomForestSpec is GridSearchCV over RandomForestRegressor on the scaled
// features (no polynomial step). The candidates follow ParameterGrid order:
// keys sorted (max_depth, min_samples_split, n_estimators), so
// min_samples_split is the only one that varies.
func randomForestSpec() modelSpec {
	const trees, maxDepth = 100, 10
	var grid []candidate
	for _, split := range []int{2, 5, 10} {
		p := forestParams{trees: trees, maxDepth: maxDepth, minSamplesSplit: split, seed: forestSeed}
		grid = append(grid, candidate{
			params: []param{
				{"randomforestregressor__max_depth", maxDepth},
				{"randomforestregressor__min_samples_split", split},
				{"randomforestregressor__n_estimators", trees},
			},
			fit: p.fitter(),
		})
	}
	return modelSpec{name: "Random Forest Regressor", poly: false, search: true, grid: grid}
}

// forestParams are the hyper-parameters of one forest.
type forestParams struct {
	trees           int // n_estimators
	maxDepth        int // max_depth (the root has depth 0)
	minSamplesSplit int // a node with fewer distinct rows is a leaf
	// seed is the first PCG seed word of every tree, the tree's index the
	// second, so tree i draws the same stream in every fit.
	seed uint64
}

// treeNode is one node of a fitted tree; feature < 0 marks a leaf.
type treeNode struct {
	feature     int32
	left, right int32
	threshold   float64 // rows with x[feature] <= threshold go left
	value       float64 // weighted mean target of the node's rows
}

// regressionTree is a fitted tree, its root at nodes[0].
type regressionTree struct {
	nodes []treeNode
}

// randomForest is a fitted forest: the mean of its trees' predictions.
type randomForest struct {
	trees    []regressionTree
	features int
}

// forestData is the training set shared read-only by every tree of a fit.
type forestData struct {
	cols   [][]float32 // cols[f][i]: feature f of row i, as float32 like scikit-learn's trees
	y      []float64
	sorted [][]int32 // sorted[f]: the row indices in ascending order of cols[f] (stable)
}

// fitter returns the fitter of a forest with these parameters. Trees are
// fitted one after another on the calling goroutine: the grid search
// already spreads fits over the cores it may use (the server's computation
// cap), so a fit must not start goroutines of its own. Tree i depends only
// on the data and on i.
func (p forestParams) fitter() fitter {
	return func(ctx context.Context, x *mat.Dense, y []float64) (predictor, error) {
		rows, cols := x.Dims()
		if rows < 1 || cols < 1 {
			return nil, fmt.Errorf("%w: random forest on %d rows × %d features", errNotFittable, rows, cols)
		}
		if len(y) != rows {
			return nil, fmt.Errorf("random forest: %d targets for %d rows", len(y), rows)
		}
		if p.trees < 1 || p.maxDepth < 1 || p.minSamplesSplit < 2 {
			return nil, fmt.Errorf("random forest: invalid parameters %+v", p)
		}
		data, err := newForestData(x, y)
		if err != nil {
			return nil, err
		}
		forest := randomForest{trees: make([]regressionTree, p.trees), features: cols}
		b := newTreeBuilder(data, p)
		for i := range forest.trees {
			if err := stopCause(ctx); err != nil { // a tree takes milliseconds
				return nil, err
			}
			forest.trees[i] = b.build(rand.New(rand.NewPCG(p.seed, uint64(i))))
		}
		return forest, nil
	}
}

// newForestData converts x to float32 columns (scikit-learn's trees work on
// float32 copies of X) and presorts every column once for all trees.
func newForestData(x *mat.Dense, y []float64) (*forestData, error) {
	rows, cols := x.Dims()
	d := &forestData{cols: make([][]float32, cols), y: y, sorted: make([][]int32, cols)}
	for i, v := range y {
		if !isFinite(v) {
			return nil, fmt.Errorf("%w: target %d is %v", errNotFittable, i, v)
		}
	}
	for f := 0; f < cols; f++ {
		col := make([]float32, rows)
		for i := range col {
			v := float32(x.At(i, f))
			if !isFinite(float64(v)) {
				return nil, fmt.Errorf("%w: feature %d of row %d is %v", errNotFittable, f, i, x.At(i, f))
			}
			col[i] = v
		}
		order := make([]int32, rows)
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortStableFunc(order, func(a, b int32) int {
			switch {
			case col[a] < col[b]:
				return -1
			case col[a] > col[b]:
				return 1
			}
			return 0
		})
		d.cols[f], d.sorted[f] = col, order
	}
	return d, nil
}

// treeBuilder holds one goroutine's scratch space, reused for every tree it
// builds so that building a node allocates nothing.
type treeBuilder struct {
	data     *forestData
	p        forestParams
	nodes    []treeNode // the tree being built, copied out when done
	weight   []float64  // bootstrap count of each row (scikit-learn's sample_weight)
	segments [][]int32  // per feature, the in-bag rows; a node owns [start, end) of each, sorted by that feature
	scratch  []int32
	goesLeft []int // 1 for the rows of the node being split that go left, else 0
	features []int32
	stack    []buildTask
}

// buildTask is a node waiting to be built: its rows [start, end) of every
// segment, its depth, and where its parent links to it.
type buildTask struct {
	start, end, depth int
	parent            int32
	isLeft            bool
}

// nodeSplit is the best split found for a node.
type nodeSplit struct {
	feature   int32
	pos       int // the first row of the right child in the feature's segment
	threshold float64
}

func newTreeBuilder(data *forestData, p forestParams) *treeBuilder {
	n, cols := len(data.y), len(data.cols)
	b := &treeBuilder{
		data:     data,
		p:        p,
		weight:   make([]float64, n),
		segments: make([][]int32, cols),
		scratch:  make([]int32, n),
		goesLeft: make([]int, n),
		features: make([]int32, cols),
	}
	for f := range b.segments {
		b.segments[f] = make([]int32, 0, n)
	}
	return b
}

// build fits one tree on a bootstrap sample, as scikit-learn's forest does:
// n row draws with replacement become integer sample weights (rows drawn
// zero times are left out), then a depth-first build with BestSplitter and
// the squared-error criterion. A node is a leaf when it is at max_depth,
// holds fewer than min_samples_split distinct rows, has impurity ≤ machine
// epsilon, or has no valid split.
func (b *treeBuilder) build(rng *rand.Rand) regressionTree {
	n := len(b.data.y)
	clear(b.weight)
	for k := 0; k < n; k++ {
		b.weight[rng.IntN(n)]++
	}
	for f, order := range b.data.sorted {
		seg := b.segments[f][:n]
		m := 0
		for _, r := range order {
			seg[m] = r
			m += b.inBag(r) // branch-free: a third of the rows are out of bag at random
		}
		b.segments[f] = seg[:m]
	}
	inBag := len(b.segments[0])
	nodes := b.nodes[:0]
	b.stack = append(b.stack[:0], buildTask{start: 0, end: inBag, depth: 0, parent: -1})
	for len(b.stack) > 0 {
		task := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]

		weightSum, sum, sqSum := b.nodeSums(task.start, task.end)
		mean := sum / weightSum
		impurity := sqSum/weightSum - mean*mean
		node := treeNode{feature: -1, value: mean}
		split, found := nodeSplit{}, false
		if task.depth < b.p.maxDepth && task.end-task.start >= b.p.minSamplesSplit && impurity > epsilon {
			split, found = b.bestSplit(task.start, task.end, weightSum, sum, rng)
		}
		id := int32(len(nodes))
		if task.parent >= 0 {
			if task.isLeft {
				nodes[task.parent].left = id
			} else {
				nodes[task.parent].right = id
			}
		}
		if found {
			node.feature, node.threshold = split.feature, split.threshold
			b.partition(task.start, task.end, split)
		}
		nodes = append(nodes, node)
		if found {
			// Right pushed first so the left child is built next, as in scikit-learn.
			b.stack = append(b.stack,
				buildTask{start: split.pos, end: task.end, depth: task.depth + 1, parent: id},
				buildTask{start: task.start, end: split.pos, depth: task.depth + 1, parent: id, isLeft: true})
		}
	}
	b.nodes = nodes
	return regressionTree{nodes: slices.Clone(nodes)}
}

// inBag is 1 for a row of the bootstrap sample, 0 for one left out.
func (b *treeBuilder) inBag(r int32) int {
	if b.weight[r] > 0 {
		return 1
	}
	return 0
}

// nodeSums returns Σw, Σw·y and Σw·y² over the node's rows.
func (b *treeBuilder) nodeSums(start, end int) (weightSum, sum, sqSum float64) {
	y := b.data.y
	for _, r := range b.segments[0][start:end] {
		w := b.weight[r]
		weightSum += w
		sum += w * y[r]
		sqSum += w * y[r] * y[r]
	}
	return weightSum, sum, sqSum
}

// bestSplit is scikit-learn's BestSplitter.node_split with the MSE
// criterion: features in a random order, constant ones skipped; within a
// feature every position where the sorted value rises by more than
// FEATURE_THRESHOLD is a candidate, scored by the proxy improvement
// Σ_left²/w_left + Σ_right²/w_right; the first strictly best candidate wins,
// with the threshold at the midpoint of the two values (the lower value
// when the midpoint rounds up to the upper one).
func (b *treeBuilder) bestSplit(start, end int, weightSum, sum float64, rng *rand.Rand) (nodeSplit, bool) {
	for f := range b.features {
		b.features[f] = int32(f)
	}
	rng.Shuffle(len(b.features), func(i, j int) { b.features[i], b.features[j] = b.features[j], b.features[i] })
	bestProxy, bestFeature, bestPos := math.Inf(-1), int32(-1), 0
	y := b.data.y
	for _, f := range b.features {
		col, seg := b.data.cols[f], b.segments[f][start:end]
		if col[seg[len(seg)-1]] <= col[seg[0]]+featureThreshold {
			continue
		}
		var leftWeight, leftSum float64
		for i := 0; i < len(seg)-1; i++ {
			r := seg[i]
			leftWeight += b.weight[r]
			leftSum += b.weight[r] * y[r]
			if col[seg[i+1]] <= col[r]+featureThreshold {
				continue
			}
			rightSum := sum - leftSum
			proxy := leftSum*leftSum/leftWeight + rightSum*rightSum/(weightSum-leftWeight)
			if proxy > bestProxy {
				bestProxy, bestFeature, bestPos = proxy, f, start+i+1
			}
		}
	}
	if bestFeature < 0 {
		return nodeSplit{}, false
	}
	seg := b.segments[bestFeature]
	col := b.data.cols[bestFeature]
	lo, hi := float64(col[seg[bestPos-1]]), float64(col[seg[bestPos]])
	threshold := lo/2 + hi/2
	if threshold == hi || math.IsInf(threshold, 0) {
		threshold = lo
	}
	return nodeSplit{feature: bestFeature, pos: bestPos, threshold: threshold}, true
}

// partition reorders [start, end) of every feature's segment so that the
// rows going left come first, each side keeping its sorted order.
func (b *treeBuilder) partition(start, end int, s nodeSplit) {
	for i, r := range b.segments[s.feature][start:end] {
		b.goesLeft[r] = 0
		if start+i < s.pos {
			b.goesLeft[r] = 1
		}
	}
	for f, seg := range b.segments {
		if int32(f) == s.feature {
			continue
		}
		seg = seg[start:end]
		right := b.scratch[:len(seg)]
		nLeft, nRight := 0, 0
		for _, r := range seg {
			// Branch-free: write r to both sides, advance the one it belongs to.
			seg[nLeft] = r
			right[nRight] = r
			l := b.goesLeft[r]
			nLeft += l
			nRight += 1 - l
		}
		copy(seg[nLeft:], right[:nRight])
	}
}

// predictRow returns the tree's value for one row of float32 features.
func (t regressionTree) predictRow(row []float32) float64 {
	i := int32(0)
	for {
		n := &t.nodes[i]
		if n.feature < 0 {
			return n.value
		}
		if float64(row[n.feature]) <= n.threshold {
			i = n.left
		} else {
			i = n.right
		}
	}
}

// predict is the mean of the trees' predictions, the features rounded to
// float32 first as scikit-learn does.
func (m randomForest) predict(x *mat.Dense, dst []float64) {
	rows, _ := x.Dims()
	row := make([]float32, m.features)
	for i := 0; i < rows; i++ {
		for f, v := range x.RawRowView(i)[:m.features] {
			row[f] = float32(v)
		}
		var sum float64
		for _, t := range m.trees {
			sum += t.predictRow(row)
		}
		dst[i] = sum / float64(len(m.trees))
	}
}
